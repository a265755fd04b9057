"""A mergeable log-bucket sketch (DDSketch-style) of latencies, in SQL.

A positive value x falls in bin ceil(log_gamma(x)) with gamma = (1 + a)/(1 - a),
a = 0.0099, and a bin stands for 2 * gamma**bin / (gamma + 1): every value of
the bin is within a (< 1%) of it, relative. Zero has its own bin, negative
values mirror the positive ones below it. A sketch is a jsonb object
{bin: count}; two sketches merge by adding counts, so hourly sketches of a
rollup combine into the sketch of any range. ``quantiles`` finds the bins of
the two order statistics percentile_cont interpolates between, so its answer
is within 1% of percentile_cont's for non-negative values. It works on rows
of (bin, count), set-based: no function runs per sketch or per group.

The functions are created by the migrations (statements below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Subquery, func, select

RELATIVE_ACCURACY = 0.0099

_GAMMA = f"({1 + RELATIVE_ACCURACY}::float8 / {1 - RELATIVE_ACCURACY}::float8)"

CREATE = (
    f"""
CREATE FUNCTION sketch_bin(x double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x > 0 THEN ceil(ln(x) / ln({_GAMMA}))::integer
    WHEN x = 0 THEN -500000
    WHEN x < 0 THEN -2000000 - ceil(ln(-x) / ln({_GAMMA}))::integer
  END
$$""",
    f"""
CREATE FUNCTION sketch_value(bin integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN bin = -500000 THEN 0
    WHEN bin > -500000 THEN 2 * power({_GAMMA}, bin) / ({_GAMMA} + 1)
    ELSE -2 * power({_GAMMA}, -2000000 - bin) / ({_GAMMA} + 1)
  END
$$""",
    """
CREATE FUNCTION sketch_pack(bins integer[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(bin, n), '{}'::jsonb)
  FROM (SELECT bin, count(*) AS n FROM unnest(bins) AS bin WHERE bin IS NOT NULL GROUP BY bin) s
$$""",
    # Only the (small) second sketch is walked: a batch's bins fold into a stored row.
    """
CREATE FUNCTION sketch_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(a, '{}'::jsonb) || coalesce(
    (SELECT jsonb_object_agg(k, v::bigint + coalesce((a ->> k)::bigint, 0))
     FROM jsonb_each_text(b) AS e(k, v)),
    '{}'::jsonb)
$$""",
)

DROP = (
    "DROP FUNCTION sketch_add(jsonb, jsonb)",
    "DROP FUNCTION sketch_pack(integer[])",
    "DROP FUNCTION sketch_value(integer)",
    "DROP FUNCTION sketch_bin(double precision)",
)


def quantiles(
    bins: Subquery, fractions: Mapping[str, float], keys: Sequence[str], name: str
) -> Subquery:
    """Percentiles per group of (``keys``..., ``bin``, ``n``) rows, one column per name."""
    group = [bins.c[k] for k in keys]
    summed = (
        select(*group, bins.c.bin, func.sum(bins.c.n).label("n"))
        .group_by(*group, bins.c.bin)
        .subquery(f"{name}_summed")
    )
    within = [summed.c[k] for k in keys]
    ranked = select(
        *within,
        summed.c.bin,
        func.sum(summed.c.n).over(partition_by=within, order_by=summed.c.bin).label("cum"),
        func.sum(summed.c.n).over(partition_by=within).label("total"),
    ).subquery(f"{name}_ranked")
    columns = []
    for measure, fraction in fractions.items():
        position = fraction * (ranked.c.total - 1)
        low = func.min(ranked.c.bin).filter(ranked.c.cum > func.floor(position))
        high = func.min(ranked.c.bin).filter(ranked.c.cum > func.ceil(position))
        value = func.sketch_value(low)
        step = (position - func.floor(position)) * (func.sketch_value(high) - value)
        columns.append((value + step).label(measure))
    outer = [ranked.c[k] for k in keys]
    return select(*outer, *columns).group_by(*outer, ranked.c.total).subquery(name)

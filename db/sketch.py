"""A mergeable log-bucket sketch (DDSketch-style) of latencies, in SQL.

A positive value x falls in bin ceil(log_gamma(x)) with gamma = (1 + a)/(1 - a),
a = 0.0099, and a bin stands for 2 * gamma**bin / (gamma + 1): every value of
the bin is within a (< 1%) of it, relative. Zero has its own bin, negative
values mirror the positive ones below it. A sketch is a jsonb object
{bin: count}; two sketches merge by adding counts, so hourly sketches of a
rollup combine into the sketch of any range. ``sketch_quantile`` finds the
bins of the two order statistics percentile_cont interpolates between, so its
answer is within 1% of percentile_cont's for non-negative values.

The functions are created by the migrations (statements below).
"""

from __future__ import annotations

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
    """
CREATE FUNCTION sketch_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
  FROM (
    SELECT k, sum(v::bigint) AS n
    FROM (
      SELECT key, value FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
      UNION ALL
      SELECT key, value FROM jsonb_each_text(coalesce(b, '{}'::jsonb))
    ) AS e(k, v)
    GROUP BY k
  ) s
$$""",
    "CREATE AGGREGATE sketch_merge(jsonb) (SFUNC = sketch_add, STYPE = jsonb)",
    """
CREATE FUNCTION sketch_quantile(s jsonb, fraction double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH c AS (
    SELECT k::integer AS bin,
           sum(v::bigint) OVER (ORDER BY k::integer) AS cum,
           sum(v::bigint) OVER () AS total
    FROM jsonb_each_text(s) AS e(k, v)
  ), p AS (SELECT fraction * (max(total) - 1) AS pos FROM c)
  SELECT lo.v + (p.pos - floor(p.pos)) * (hi.v - lo.v)
  FROM p
  CROSS JOIN LATERAL (
    SELECT sketch_value(bin) AS v FROM c WHERE cum > floor(p.pos) ORDER BY bin LIMIT 1
  ) lo
  CROSS JOIN LATERAL (
    SELECT sketch_value(bin) AS v FROM c WHERE cum > ceil(p.pos) ORDER BY bin LIMIT 1
  ) hi
$$""",
)

DROP = (
    "DROP FUNCTION sketch_quantile(jsonb, double precision)",
    "DROP AGGREGATE sketch_merge(jsonb)",
    "DROP FUNCTION sketch_add(jsonb, jsonb)",
    "DROP FUNCTION sketch_pack(integer[])",
    "DROP FUNCTION sketch_value(integer)",
    "DROP FUNCTION sketch_bin(double precision)",
)

"""The benchmark: `python -m bench --rows N` (see README)."""

"""Validated, idempotent, all-or-nothing batch ingest for every fact table."""

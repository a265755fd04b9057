"""Database layer: tables, engine, the aggregate compiler, ingest writers."""

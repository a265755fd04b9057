"""Fact-table declarations for the aggregate compiler, one module per entity kind."""

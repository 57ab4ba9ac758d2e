"""Helpers of the database source (``foundry_dsl.sources.db``): connection strings,
SQL text, dialects, cursors and range partitions. Pure Python; ODBC is touched only
by ``db`` and ``dialect``."""

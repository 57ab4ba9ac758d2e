"""Helpers of the database source (``foundry_dsl.sources.db``): connection strings and
URLs, SQL text, dialects, range partitions, and the links that reach a database
(``link``: the interface; ``odbc`` and ``adbc``: the only modules that load a driver)."""

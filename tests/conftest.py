"""Test services, one per session, each started on 127.0.0.1 by its plugin module."""

pytest_plugins = [
    "tests.fixtures.api_server",
    "tests.fixtures.databases",
    "tests.fixtures.storage_services",
    "tests.fixtures.dask_cluster",
]

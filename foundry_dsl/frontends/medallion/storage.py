"""The spec's ``platform:`` section → the IR platform: where Bronze lands
(storage backend and its connection), how it is partitioned, which formats
the platform allows. ``storage_backend`` is one of the spec's four backends,
or the class path of the user's own backend (the IR's ``storage custom``).

Front-end layer, part of step 3 of :mod:`.compile`. The platform is named
after the config file's stem (``configs/github.yaml`` → ``github``).
"""

from __future__ import annotations

from pathlib import Path

from foundry_dsl.errors import Position
from foundry_dsl.frontends.medallion.mapping import Mapper, copy_entry, get_in, key_pos, value_of
from foundry_dsl.frontends.medallion.schema import BACKENDS
from foundry_dsl.frontends.positioned import PList, PMap, PNode, PScalar


def platform(m: Mapper, node: PMap, at: Position | None) -> PMap:
    """``platform:`` → the IR platform."""
    bronze = node.get("bronze")
    assert isinstance(bronze, PMap)
    out = PMap(pos=node.pos, title=f"platform {Path(m.path).stem}")
    out.set("name", PScalar(Path(m.path).stem, at))
    out.set("storage", storage(m, node, bronze), key_pos(bronze, "storage_backend"))
    partitioning = bronze.get("partitioning")
    copy_entry(partitioning, "partition_strategy", out, "partition")
    copy_entry(partitioning, "use_dt_partition", out, "use_dt_partition")
    defaults = bronze.get("output_defaults")
    copy_entry(defaults, "parquet_compression", out, "compression")
    allowed = [f for f in ("parquet", "csv") if value_of(get_in(defaults, f"allow_{f}"), True)]
    if not allowed:
        m.error(
            "the platform allows no format: allow_parquet and allow_csv are both false",
            key_pos(bronze, "output_defaults"),
            "set allow_parquet: true (or allow_csv: true) in platform.bronze.output_defaults",
        )
    pos = defaults.pos if isinstance(defaults, PMap) else bronze.pos
    out.set("formats", PList([PScalar(f, pos) for f in allowed], pos))
    return out


def storage(m: Mapper, platform: PMap, bronze: PMap) -> PMap:
    """``platform.bronze.storage_backend`` and its settings → the IR storage."""
    backend_node = bronze.get("storage_backend")
    backend = value_of(backend_node, "s3")
    if backend not in BACKENDS:
        return _custom(m, platform, bronze, backend_node)
    out = PMap(pos=bronze.pos, title=f"storage {backend}")
    out.set("kind", PScalar(backend, backend_node.pos if backend_node else bronze.pos))
    # Settings of the other backends are allowed and ignored, so a config
    # can switch storage_backend without deleting them.
    if backend == "s3":
        m.require(bronze, "s3_bucket", "platform.bronze", "storage_backend s3")
        copy_entry(bronze, "s3_bucket", out, "bucket")
        copy_entry(bronze, "s3_prefix", out, "prefix")
        conn = platform.get("s3_connection")
        m.literal_or_env(conn, "endpoint_url", out, "endpoint", "platform.s3_connection")
        m.env(conn, "access_key_env", out, "access_key")
        m.env(conn, "secret_key_env", out, "secret_key")
        region_env = get_in(conn, "region_env")
        if region_env is not None and "s3_region" in bronze.entries:
            m.error(
                "give only one of platform.bronze.s3_region and platform.s3_connection.region_env",
                region_env.pos,
            )
        copy_entry(bronze, "s3_region", out, "region")
        m.env(conn, "region_env", out, "region")
    elif backend == "azure":
        m.require(bronze, "azure_container", "platform.bronze", "storage_backend azure")
        copy_entry(bronze, "azure_container", out, "container")
        copy_entry(bronze, "azure_prefix", out, "prefix")
        conn = platform.get("azure_connection")
        m.literal_or_env(conn, "account_name", out, "account_name", "platform.azure_connection")
        m.env(conn, "account_key_env", out, "account_key")
        m.env(conn, "sas_token_env", out, "sas_token")
        m.env(conn, "connection_string_env", out, "connection_string")
    elif backend == "gcs":
        m.require(bronze, "gcs_bucket", "platform.bronze", "storage_backend gcs")
        copy_entry(bronze, "gcs_bucket", out, "bucket")
        copy_entry(bronze, "gcs_prefix", out, "prefix")
        conn = platform.get("gcs_connection")
        m.literal_or_env(conn, "project", out, "project", "platform.gcs_connection")
        m.env(conn, "credentials_env", out, "credentials")
        m.literal_or_env(conn, "endpoint_url", out, "endpoint", "platform.gcs_connection")
    else:
        copy_entry(bronze, "local_path", out, "path")
    return out


def _custom(m: Mapper, platform: PMap, bronze: PMap, backend: PNode | None) -> PMap:
    """``storage_backend: package.module:Class`` → ``storage custom``: the class is built
    with ``root=`` from ``custom_root`` and ``options=`` from ``platform.custom_connection``."""
    assert backend is not None  # the default, s3, is built in
    out = PMap(pos=bronze.pos, title="storage custom")
    out.set("kind", PScalar("custom", backend.pos))
    out.set("backend", backend, key_pos(bronze, "storage_backend"))
    copy_entry(bronze, "custom_root", out, "root")
    options = m.free_map(platform.get("custom_connection"), "platform.custom_connection", False)
    if options is not None:
        out.set("options", options, key_pos(platform, "custom_connection"))
    return out

"""The spec's ``source.run`` section → the IR run settings: file sizes,
workers, upload, and which formats to write given what the platform allows.

Front-end layer, part of step 3 of :mod:`.compile`. The one run key the IR
keeps elsewhere, ``timeout_seconds``, is moved onto the api source here.
``max_file_size_mb`` overrides ``max_rows_per_file``, as the spec says: with
both given, the row limit is not applied.
"""

from __future__ import annotations

from foundry_dsl.frontends.medallion.mapping import Mapper, copy_entry, get_in, key_pos, value_of
from foundry_dsl.frontends.positioned import PList, PMap, PNode, PScalar, Quantity

MB = 1024 * 1024


def run(m: Mapper, source: PMap, platform: PMap, ir_source: PMap) -> PMap:
    """``source.run`` → the IR run; may set ``timeout`` on ``ir_source``."""
    node = source.get("run")
    run = node if isinstance(node, PMap) else PMap(pos=source.pos)
    where = "source.run"
    out = PMap(pos=run.pos, title="run")
    size = run.get("max_file_size_mb")
    if isinstance(size, PScalar) and isinstance(size.value, (int, float)):
        mb = size.value
        out.set(
            "max_file_size",
            PScalar(Quantity(mb * MB, f"{mb}MB", "size"), size.pos),
            key_pos(run, "max_file_size_mb"),
        )
    else:
        # the spec: max_file_size_mb "overrides row limit", so max_rows_per_file counts
        # only without it (a .bronze run block applies whichever limit a file hits first)
        copy_entry(run, "max_rows_per_file", out, "max_rows_per_file")
    copy_entry(run, "parallel_workers", out, "workers")
    for key in ("local_output_dir", "cleanup_on_failure", "batch_id", "lineage", "allow_empty"):
        copy_entry(run, key, out, key)
    m.one_of(run, "storage_enabled", "s3_enabled", where)
    copy_entry(run, "s3_enabled", out, "storage_enabled")
    copy_entry(run, "storage_enabled", out, "storage_enabled")
    if "storage_enabled" not in out.entries:
        # the original tool uploads only when asked (core/runner.py)
        out.set("storage_enabled", PScalar(False, run.pos))
    # the original tool keeps what it uploads under local_output_dir too, unless
    # cleanup_local_files asks otherwise (without an upload the files are local anyway)
    if value_of(out.entries["storage_enabled"].value, False) and not value_of(
        run.get("cleanup_local_files"), False
    ):
        where_set = key_pos(run, "cleanup_local_files")
        out.set("keep_local_files", PScalar(True, where_set), where_set)
    _formats(m, run, platform, out)
    timeout = run.get("timeout_seconds")
    if timeout is not None:
        if value_of(ir_source.get("kind")) != "api":
            m.error(
                "'timeout_seconds' in source.run is only used by api sources",
                key_pos(run, "timeout_seconds"),
                "remove it",
            )
        elif "timeout" in ir_source.entries:
            m.error(
                "give only one of source.api.timeout and source.run.timeout_seconds",
                key_pos(run, "timeout_seconds"),
            )
        else:
            ir_source.set("timeout", timeout, key_pos(run, "timeout_seconds"))
    return out


def _formats(m: Mapper, run: PMap, platform: PMap, out: PMap) -> None:
    defaults = get_in(platform, "bronze", "output_defaults")
    chosen: list[PNode] = []
    for fmt, default in (("parquet", None), ("csv", False)):
        allowed = value_of(get_in(defaults, f"allow_{fmt}"), True)
        written = run.get(f"write_{fmt}")
        # write_parquet defaults to what the platform allows; write_csv to false
        wanted = value_of(written, allowed if default is None else default)
        if not wanted:
            continue
        if not allowed:
            assert written is not None
            m.error(
                f"write_{fmt} is true but the platform does not allow {fmt}",
                written.pos,
                f"set write_{fmt}: false, or allow_{fmt}: true in "
                "platform.bronze.output_defaults",
            )
            continue
        chosen.append(PScalar(fmt, written.pos if written is not None else run.pos))
    if not chosen and not m.errors:
        m.error(
            "nothing to write: write_parquet and write_csv are both false",
            run.pos,
            "set write_parquet: true (or write_csv: true) in source.run",
        )
    out.set("formats", PList(chosen, chosen[0].pos if chosen else run.pos))

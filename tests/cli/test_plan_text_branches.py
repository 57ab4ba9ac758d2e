"""cli/render/plan_text.py: each row a plan can show, from real pipeline files.

Every test writes a small ``pipeline.bronze`` (and, for custom sources, a module)
in a temporary folder, plans it there in-process (``foundry_dsl.load(...).plan``)
and, where a committed partition matters, lands it first with ``foundry_dsl.apply``
into local storage in the same folder. The text is rendered wide, so each row is
one line (a multi-line value keeps its own line breaks).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import foundry_dsl
from foundry_dsl.cli.render.plan_text import plan_renderable, render_plan_text
from foundry_dsl.planner.plan import Plan
from foundry_dsl.planner.windows import WindowRequest

WIDE = 1000  # no row wraps at this width

LOCAL = 'storage local {\n    path = "lake"\n  }'

EVENTS = '''
from foundry_dsl.sources.base import Extractor, NewCursor


class Events(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": i} for i in range(1, 11)]
        yield NewCursor("10")
'''

ESTIMATES = '''
from foundry_dsl.sources.base import Estimate, Extractor


class NothingKnown(Extractor):
    def estimate_live(self, ctx):
        return Estimate()

    def extract(self, ctx, part=0):
        yield []


class Huge(Extractor):
    def estimate_live(self, ctx):
        return Estimate(rows=1_234_567, bytes=3 * 1024**4, detail="from the catalog")

    def extract(self, ctx, part=0):
        yield []
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, the current directory (positions read pipeline.bronze:L:C)."""
    monkeypatch.chdir(tmp_path)
    for name in ("PTB_ODBC", "PTB_KEY", "PTB_SECRET", "PTB_SINCE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _write(folder: Path, source: str, run: str = "", storage: str = LOCAL,
           platform: str = "", name: str = "app.events") -> None:
    """pipeline.bronze: the platform (``storage`` taking three lines), then the pipeline
    from line 8, its source block from line 10."""
    (folder / "pipeline.bronze").write_text(
        f"platform lake {{\n  {storage}\n  {platform}\n}}\n\n"
        f"pipeline {name} {{\n  platform = lake\n  {source}\n  run {{\n    {run}\n  }}\n}}\n"
    )


def _plan(day: int = 4, **options: Any) -> Plan:
    at = dt.datetime(2025, 3, day, 10, 0, tzinfo=dt.timezone.utc)
    return foundry_dsl.load(["pipeline.bronze"]).plan(date=at.date(), at=at, **options)


def _landed(day: int = 4) -> None:
    """The pipeline applied once for ``day``, so its partition (and cursor) are committed."""
    result = foundry_dsl.apply(_plan(day))
    assert [r.status for r in result.results] == ["succeeded"]


def _lines(plan: Plan) -> list[str]:
    return render_plan_text(plan, WIDE).splitlines()


def _head(plan: Plan) -> str:
    """The pipeline's first line: ``<marker> <action> <name>  (<file>)``."""
    return next(line for line in _lines(plan) if line[:2] in ("+ ", "~ ", "? "))


def _rows(plan: Plan) -> list[tuple[str, str]]:
    """The only pipeline's grid as ``(key, value)``; a value's further lines joined by \\n."""
    body = [line for line in _lines(plan) if line.startswith("  ")]
    first = body[0]  # the source row
    column = len(first) - len(first[len("  source"):].lstrip())
    rows: list[tuple[str, str]] = []
    for line in body:
        key, value = line[:column].strip(), line[column:]
        if key:
            rows.append((key, value))
        else:
            rows[-1] = (rows[-1][0], rows[-1][1] + "\n" + value)
    return rows


def _keys(plan: Plan) -> list[str]:
    return [key for key, _ in _rows(plan)]


def _row(plan: Plan, key: str) -> str:
    found = [value for k, value in _rows(plan) if k == key]
    assert len(found) == 1, (key, _rows(plan))
    return found[0]


SEQUENCE = "source sequence {\n    count = 10\n  }"
CUSTOM_EVENTS = 'source custom {\n    module = "ptb_events"\n    class_name = "Events"\n  }'


# --- a committed partition: replace, existing, if empty ---------------------------------


def test_a_committed_partition_is_planned_as_a_replace(project: Path) -> None:
    _write(project, SEQUENCE)
    _landed()
    assert _head(_plan()) == "~ replace app.events  (pipeline.bronze)"


def test_a_committed_partition_shows_its_records_files_and_commit_time(project: Path) -> None:
    _write(project, SEQUENCE)
    _landed()
    assert _row(_plan(), "existing") == "10 records in 1 file, committed 2025-03-04T10:00:00+00:00"


def test_replacing_rows_says_an_empty_run_fails_and_keeps_them(project: Path) -> None:
    _write(project, SEQUENCE)
    _landed()
    assert _row(_plan(), "if empty") == (
        "the run fails and keeps them (--allow-empty to replace them with none)"
    )


def test_allow_empty_in_the_run_block_says_an_empty_run_replaces_the_rows(project: Path) -> None:
    _write(project, SEQUENCE, run="allow_empty = true")
    _landed()
    assert _row(_plan(), "if empty") == "replaces them with none (allow_empty)"


def test_allow_empty_on_the_command_line_says_an_empty_run_replaces_the_rows(
    project: Path,
) -> None:
    _write(project, SEQUENCE)
    _landed()
    plan = _plan(window=WindowRequest(allow_empty=True))
    assert _row(plan, "if empty") == "replaces them with none (allow_empty)"


def test_a_committed_partition_without_rows_has_no_if_empty_row(project: Path) -> None:
    _write(project, "source sequence {\n    count = 0\n  }")
    _landed()
    plan = _plan()
    assert _row(plan, "existing") == "0 records in 0 files, committed 2025-03-04T10:00:00+00:00"
    assert "if empty" not in _keys(plan)


def test_a_commit_marker_without_counts_or_time_shows_question_marks(project: Path) -> None:
    # a _metadata.json another tool wrote, without foundry's figures
    _write(project, SEQUENCE)
    partition = project / "lake/system=app/table=events/dt=2025-03-04"
    partition.mkdir(parents=True)
    (partition / "_metadata.json").write_text("{}")
    assert _row(_plan(), "existing") == "? records in ? files"


def test_a_partition_nothing_is_committed_in_has_no_existing_row(project: Path) -> None:
    _write(project, SEQUENCE)
    plan = _plan()
    assert _head(plan) == "+ create app.events  (pipeline.bronze)"
    assert "existing" not in _keys(plan)


# --- storage that cannot be looked at ----------------------------------------------------


def test_a_commit_marker_that_is_not_json_leaves_storage_unchecked_and_says_why(
    project: Path,
) -> None:
    _write(project, SEQUENCE)
    partition = project / "lake/system=app/table=events/dt=2025-03-04"
    partition.mkdir(parents=True)
    (partition / "_metadata.json").write_text("not json")
    assert _row(_plan(), "storage") == (
        "not checked: partition system=app/table=events/dt=2025-03-04: _metadata.json is not "
        "valid JSON (Expecting value: line 1 column 1 (char 0)); it was not written by foundry: "
        "inspect it, then delete it to land the partition again"
    )


def test_unchecked_storage_plans_a_write_of_unknown_kind(project: Path) -> None:
    _write(project, SEQUENCE)
    partition = project / "lake/system=app/table=events/dt=2025-03-04"
    partition.mkdir(parents=True)
    (partition / "_metadata.json").write_text("not json")
    assert _head(_plan()) == "? write app.events  (pipeline.bronze)"


def test_an_offline_plan_says_storage_was_not_checked_under_its_title(project: Path) -> None:
    _write(project, SEQUENCE)
    assert _lines(_plan(look_up_storage=False))[:2] == [
        "foundry plan  run date 2025-03-04, at 2025-03-04T10:00:00Z",
        "storage not checked (--offline): create or replace is unknown",
    ]


# --- estimates ---------------------------------------------------------------------------


def _db(extra: str = "") -> str:
    return (
        'source db {\n    connection = env("PTB_ODBC")\n    query = "SELECT * FROM orders"\n'
        f'    partition_column = "order_id"\n    partitions = 3\n    {extra}\n  }}'
    )


def test_an_estimate_the_source_cannot_give_says_why(project: Path) -> None:
    _write(project, _db())
    plan = _plan(look_up_storage=False, estimate=True)
    assert _row(plan, "estimate") == (
        "not available: environment variable PTB_ODBC is not set "
        '(referenced as env("PTB_ODBC") at pipeline.bronze:11:18)'
    )


def test_ranges_fixed_in_the_pipeline_are_shown_without_an_estimate_row(project: Path) -> None:
    _write(project, _db("partition_bounds = [0, 90]"))
    plan = _plan(look_up_storage=False)
    assert _row(plan, "ranges") == "[.., 30), [30, 60), [60, ..]"
    assert "estimate" not in _keys(plan)


def test_an_estimate_that_knows_nothing_is_shown_as_unknown(project: Path) -> None:
    (project / "ptb_estimates.py").write_text(ESTIMATES)
    _write(project, 'source custom {\n    module = "ptb_estimates"\n    class_name = "NothingKnown"\n  }')
    assert _row(_plan(look_up_storage=False, estimate=True), "estimate") == "unknown"


def test_an_estimate_gives_its_detail_then_rows_then_size(project: Path) -> None:
    (project / "ptb_estimates.py").write_text(ESTIMATES)
    _write(project, 'source custom {\n    module = "ptb_estimates"\n    class_name = "Huge"\n  }')
    plan = _plan(look_up_storage=False, estimate=True)
    assert _row(plan, "estimate") == "from the catalog, 1,234,567 rows, 3 TB"


def test_a_source_that_cannot_estimate_has_no_estimate_row(project: Path) -> None:
    _write(project, CUSTOM_EVENTS)
    assert "estimate" not in _keys(_plan(look_up_storage=False))


def test_an_estimate_of_one_row_says_one_row(project: Path) -> None:
    _write(project, "source sequence {\n    count = 1\n  }")
    assert _row(_plan(look_up_storage=False), "estimate") == "1 row, 8 B"


# --- cursor, window, refused ---------------------------------------------------------------


def test_the_next_date_after_a_run_takes_its_cursor_from_the_stored_state(project: Path) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    assert _row(_plan(day=5), "cursor") == "from the stored state (where the newest commit's rows end)"


def test_the_next_date_after_a_run_extracts_the_rows_after_the_newest_commit(
    project: Path,
) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    assert _row(_plan(day=5), "window") == "(10, ..]: rows after the newest commit"


def test_rerunning_the_committed_date_extracts_its_rows_again_and_what_arrived_since(
    project: Path,
) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    plan = _plan(day=4)
    assert (_row(plan, "cursor"), _row(plan, "window")) == (
        "from this partition's last commit (where its rows start)",
        "(initial, ..]: its committed rows again, and what arrived since",
    )


def test_an_older_date_without_a_commit_is_refused_as_a_backfill(project: Path) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    assert _row(_plan(day=3), "refused") == (
        "pipeline app.events: partition system=app/table=events/dt=2025-03-03/ has no commit "
        "and is older than the newest commit (system=app/table=events/dt=2025-03-04/, cursor "
        "10); a run now would land rows that belong to later dates. This is a backfill: say "
        "which rows it holds with --from CURSOR [--to CURSOR], or reload everything with "
        "--full-refresh"
    )


def test_a_refused_run_shows_no_window(project: Path) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    assert "window" not in _keys(_plan(day=3))


def test_a_full_refresh_window_starts_from_the_initial_cursor(project: Path) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS)
    _landed(day=4)
    plan = _plan(day=3, window=WindowRequest(full_refresh=True))
    assert (_row(plan, "cursor"), _row(plan, "window")) == (
        "none: a full load (--full-refresh)",
        "(initial, ..]: everything, from the initial cursor (--full-refresh)",
    )


# --- target, env and warnings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("storage", "target"),
    [
        (LOCAL, "lake (local)"),
        ('storage s3 {\n    bucket = "b"\n    prefix = "bronze"\n  }', "s3://b/bronze (s3)"),
        ('storage azure {\n    container = "c"\n    prefix = "raw"\n  }', "abfs://c/raw (azure)"),
        ('storage gcs {\n    bucket = "g"\n  }', "gs://g (gcs)"),
        ('storage custom {\n    backend = "vault.Backend"\n    root = "bronze"\n  }',
         "vault.Backend:bronze (custom)"),
    ],
)
def test_the_target_names_the_storage_kind(project: Path, storage: str, target: str) -> None:
    _write(project, SEQUENCE, storage=storage)
    assert _row(_plan(look_up_storage=False), "target") == target


def test_storage_disabled_lands_under_the_local_output_dir(project: Path) -> None:
    _write(project, SEQUENCE, run='storage_enabled = false\n    local_output_dir = "scratch"',
           storage='storage s3 {\n    bucket = "b"\n  }')
    assert _row(_plan(look_up_storage=False), "target") == "scratch (local)"


S3_WITH_KEYS = ('storage s3 {\n    bucket = "b"\n    access_key = env("PTB_KEY")\n'
                '    secret_key = env("PTB_SECRET")\n  }')


def test_unset_variables_come_before_set_ones(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_KEY", "k")
    _write(project, SEQUENCE, storage=S3_WITH_KEYS)
    assert _row(_plan(look_up_storage=False), "env") == "not set: PTB_SECRET\nset: PTB_KEY"


def test_a_variable_set_to_spaces_is_not_set_and_marked_empty(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_KEY", "k")
    monkeypatch.setenv("PTB_SECRET", "  ")
    _write(project, SEQUENCE, storage=S3_WITH_KEYS)
    assert _row(_plan(look_up_storage=False), "env") == "not set: PTB_SECRET (empty)\nset: PTB_KEY"


def test_a_pipeline_that_reads_no_variable_has_no_env_row(project: Path) -> None:
    _write(project, SEQUENCE)
    assert "env" not in _keys(_plan(look_up_storage=False))


@pytest.mark.parametrize(
    ("value", "shown"), [(None, "not set"), ("2025-03-01", "set"), (" ", "not set")]
)
def test_the_cursor_variable_is_optional_and_says_whether_it_is_set(
    project: Path, monkeypatch: pytest.MonkeyPatch, value: str | None, shown: str
) -> None:
    monkeypatch.setenv("PTB_ODBC", "DSN=x")
    if value is not None:
        monkeypatch.setenv("PTB_SINCE", value)
    _write(project, 'source db {\n    connection = env("PTB_ODBC")\n    query = "SELECT 1"\n'
                    '    incremental_key = "updated_at"\n    cursor_env = "PTB_SINCE"\n  }')
    assert _row(_plan(look_up_storage=False), "env") == f"set: PTB_ODBC\noptional: PTB_SINCE ({shown})"


def test_a_glob_that_matches_nothing_is_a_warning_with_its_position_and_help(project: Path) -> None:
    _write(project, 'source files {\n    paths = ["incoming/*.csv"]\n  }')
    assert _row(_plan(look_up_storage=False), "warning") == (
        "pipeline.bronze:11:13: no file matches 'incoming/*.csv' (relative to ./)\n"
        "help: a run fails at once unless files arrive before it; check the path or glob"
    )


# --- formats, file limits, workers -----------------------------------------------------------


def test_parquet_shows_its_codec_and_csv_none(project: Path) -> None:
    _write(project, SEQUENCE, run="formats = [csv, parquet]",
           platform="formats = [parquet, csv]\n  compression = zstd")
    assert _row(_plan(look_up_storage=False), "formats") == "csv, parquet (zstd)"


def test_the_partition_tree_lists_one_file_per_format_then_the_commit_marker(project: Path) -> None:
    _write(project, SEQUENCE, run="formats = [csv, parquet]",
           platform="formats = [parquet, csv]\n  partition = hourly")
    assert _row(_plan(look_up_storage=False), "partition") == (
        "system=app/\n"
        "  table=events/\n"
        "    dt=2025-03-04/\n"
        "      hour=10/\n"
        "        part-0001-<tag>.csv ... one per chunk\n"
        "        part-0001-<tag>.parquet ... one per chunk\n"
        "        _metadata.json written last: the commit marker"
    )


def test_file_limits_show_size_rows_and_lineage(project: Path) -> None:
    _write(project, SEQUENCE,
           run="max_file_size = 1GB\n    max_rows_per_file = 1_000_000\n    lineage = true")
    assert _row(_plan(look_up_storage=False), "files") == (
        "up to 1 GB, up to 1,000,000 rows, with _batch_id and _extracted_at columns"
    )


def test_no_limits_say_so(project: Path) -> None:
    _write(project, SEQUENCE)
    assert _row(_plan(look_up_storage=False), "files") == "no size limit, no row limit"


def test_a_custom_source_leaves_its_extract_streams_to_the_extractor(project: Path) -> None:
    _write(project, CUSTOM_EVENTS, run="workers = 3")
    assert _row(_plan(look_up_storage=False), "workers") == (
        "3 chunk writers, extract streams decided by the extractor"
    )


def test_one_writer_and_several_ranges_are_counted_in_the_workers_row(project: Path) -> None:
    _write(project, _db())
    assert _row(_plan(look_up_storage=False), "workers") == "1 chunk writer, 3 extract streams"


# --- the plain layout and rich agree ----------------------------------------------------------


def _rich(plan: Plan, width: int) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, highlight=False).print(
        plan_renderable(plan)
    )
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


@pytest.mark.parametrize("width", [80, 57])
def test_rows_of_every_kind_read_as_rich_prints_them(project: Path, width: int) -> None:
    (project / "ptb_events.py").write_text(EVENTS)
    _write(project, CUSTOM_EVENTS, run="allow_empty = true")
    _landed(day=4)
    # existing and if empty; refused; cursor and window; offline
    plans = [_plan(day=4), _plan(day=3), _plan(day=5), _plan(day=5, look_up_storage=False)]
    assert [render_plan_text(p, width) for p in plans] == [_rich(p, width) for p in plans]


@pytest.mark.parametrize("width", [80, 30])
def test_text_that_is_not_printable_ascii_reads_as_rich_prints_it(project: Path, width: int) -> None:
    # the plain layout hands a pipeline with such a value to rich
    _write(project, 'source files {\n    paths = ["données/*.csv"]\n  }')
    plan = _plan(look_up_storage=False)
    assert render_plan_text(plan, width) == _rich(plan, width)


def test_text_that_is_not_ascii_is_shown_as_written(project: Path) -> None:
    _write(project, 'source files {\n    paths = ["données/*.csv"]\n  }')
    assert _row(_plan(look_up_storage=False), "source") == "files données/*.csv"

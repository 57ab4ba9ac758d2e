"""Where a custom source's module is looked for: the pipeline file's folder, then the
current directory where the plan was made (the original tool's layout), then stdlib/."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.planner.build import run_settings
from foundry_dsl.planner.windows import WindowRequest
from foundry_dsl.sources.base import ExtractContext
from foundry_dsl.sources.registry import extractor_for

MODULE = "examples.custom_extractors.my_extractor"


def _write_extractor(root: Path, value: str) -> None:
    folder = root / "examples" / "custom_extractors"
    folder.mkdir(parents=True)
    (folder / "my_extractor.py").write_text(
        "from extractors.base import BaseExtractor\n\n"
        "class MyCustomExtractor(BaseExtractor):\n"
        "    def fetch_records(self, cfg, run_date):\n"
        f"        return [{{'found_in': {value!r}}}], None\n"
    )


def _ctx(base_dir: Path, work_dir: Path | None) -> ExtractContext:
    p = ir.Pipeline(
        system="my_system",
        table="my_table",
        platform=ir.Platform(name="p"),
        source=ir.CustomSource(module=MODULE, class_name="MyCustomExtractor"),
    )
    now = dt.datetime(2025, 1, 12, 14, 30)
    return ExtractContext(
        pipeline=p, run_date=now.date(), run_at=now, base_dir=base_dir, work_dir=work_dir
    )


def _first_batch(ctx: ExtractContext) -> list:
    return next(iter(extractor_for(ctx.pipeline.source).extract(ctx)))


@pytest.fixture(autouse=True)
def _forget_user_modules() -> Iterator[None]:
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == "examples"]:
        del sys.modules[name]


def test_a_module_beside_the_config_folder_is_found_from_the_current_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "configs").mkdir()
    _write_extractor(tmp_path, "cwd")
    assert _first_batch(_ctx(tmp_path / "configs", tmp_path)) == [{"found_in": "cwd"}]


def test_the_config_folder_is_searched_before_the_current_directory(tmp_path: Path) -> None:
    _write_extractor(tmp_path / "configs", "configs")
    _write_extractor(tmp_path, "cwd")
    assert _first_batch(_ctx(tmp_path / "configs", tmp_path)) == [{"found_in": "configs"}]


def test_without_a_plan_directory_the_current_directory_is_not_searched(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    _write_extractor(tmp_path, "cwd")
    with pytest.raises(ExtractError, match="cannot find module"):
        _first_batch(_ctx(tmp_path / "configs", None))


def test_a_missing_module_names_both_folders_it_looked_in(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    with pytest.raises(ExtractError) as err:
        _first_batch(_ctx(tmp_path / "configs", tmp_path))
    assert err.value.message == (
        f"my_system.my_table: cannot find module '{MODULE}' for the custom source "
        f"(looked in {tmp_path / 'configs'}, {tmp_path}, foundry's stdlib/ and the Python path)"
    )


def test_the_plan_records_the_directory_it_was_made_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    p = _ctx(tmp_path / "configs", None).pipeline
    assert run_settings(p, WindowRequest()).work_dir == str(tmp_path)

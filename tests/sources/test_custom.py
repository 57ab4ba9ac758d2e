"""The custom source: the original tool's extractors unchanged, and streaming ones."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.extractors.base import BaseExtractor
from foundry_dsl.sources.base import ExtractContext, NewCursor
from foundry_dsl.sources.custom import spec_config
from foundry_dsl.sources.registry import extractor_for

# the spec's example, byte for byte but for its records and cursor
SPEC_EXTRACTOR = '''
from typing import Dict, Any, List, Tuple, Optional
from datetime import date
from extractors.base import BaseExtractor

class MyCustomExtractor(BaseExtractor):
    def fetch_records(
        self,
        cfg: Dict[str, Any],
        run_date: date
    ) -> Tuple[List[Dict[str, Any]], Optional[str]]:
        source_cfg = cfg["source"]
        custom_cfg = source_cfg.get("custom_extractor", {})
        params = custom_cfg.get("params", {})

        records = [{"n": i, "api_url": params["api_url"], "day": run_date.isoformat()} for i in range(3)]

        new_cursor = "cursor-" + source_cfg["table"]

        return records, new_cursor
'''

STREAMING = '''
import pyarrow as pa
from foundry_dsl.sources.base import NewCursor

class Counter:
    def extract(self, ctx):
        n = ctx.pipeline.source.params["n"]
        for start in range(0, n, 4):
            yield pa.record_batch({"i": list(range(start, min(n, start + 4)))})
        yield NewCursor(str(n))
'''

FAILING = '''
def helper(x):
    return 1 / x

class Broken:
    def extract(self, ctx):
        yield [{"a": 1}]
        helper(0)
'''


def _ctx(base: Path, module: str, cls: str, **params: object) -> ExtractContext:
    p = ir.Pipeline(
        system="sys",
        table="tbl",
        platform=ir.Platform(name="p"),
        source=ir.CustomSource(module=module, class_name=cls, params=params),
        run=ir.RunOptions(max_file_size=256 * 2**20, workers=4),
    )
    now = dt.datetime(2025, 1, 12, 14, 30)
    return ExtractContext(pipeline=p, run_date=now.date(), run_at=now, base_dir=base)


def _items(ctx: ExtractContext) -> list:
    return list(extractor_for(ctx.pipeline.source).extract(ctx))


@pytest.fixture(autouse=True)
def _forget_user_modules() -> Iterator[None]:
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in {"my_extractor", "streaming", "broken", "pkg"}]:
        del sys.modules[name]


def test_spec_extractor_runs_unchanged_with_the_literal_import(tmp_path: Path) -> None:
    (tmp_path / "my_extractor.py").write_text(SPEC_EXTRACTOR)
    items = _items(_ctx(tmp_path, "my_extractor", "MyCustomExtractor", api_url="https://x"))
    assert items == [
        [{"n": i, "api_url": "https://x", "day": "2025-01-12"} for i in range(3)],
        NewCursor("cursor-tbl"),
    ]


def test_the_literal_import_gives_foundrys_base_extractor(tmp_path: Path) -> None:
    (tmp_path / "my_extractor.py").write_text(SPEC_EXTRACTOR)
    ctx = _ctx(tmp_path, "my_extractor", "MyCustomExtractor", api_url="u")
    ext = extractor_for(ctx.pipeline.source)
    assert isinstance(ext.load(ctx), BaseExtractor)  # type: ignore[attr-defined]


def test_module_in_a_package_of_the_pipeline_folder(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "streaming.py").write_text(STREAMING)
    items = _items(_ctx(tmp_path, "pkg.sub.streaming", "Counter", n=6))
    assert [b.to_pylist() for b in items[:-1]] == [[{"i": i} for i in range(4)], [{"i": 4}, {"i": 5}]]
    assert items[-1] == NewCursor("6")


def test_same_module_name_in_two_pipeline_folders_loads_each(tmp_path: Path) -> None:
    for name, value in (("one", 1), ("two", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "streaming.py").write_text(
            f"class C:\n    def extract(self, ctx):\n        yield [{{'v': {value}}}]\n"
        )
    assert _items(_ctx(tmp_path / "one", "streaming", "C"))[0] == [{"v": 1}]
    assert _items(_ctx(tmp_path / "two", "streaming", "C"))[0] == [{"v": 2}]


def test_module_resolved_from_stdlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stdlib = tmp_path / "stdlib"
    stdlib.mkdir()
    (stdlib / "streaming.py").write_text(STREAMING)
    monkeypatch.setattr("foundry_dsl.resources.stdlib_dir", lambda: stdlib)
    items = _items(_ctx(tmp_path / "elsewhere", "streaming", "Counter", n=2))
    assert items[0].to_pylist() == [{"i": 0}, {"i": 1}]


def test_module_resolved_from_the_python_path(tmp_path: Path) -> None:
    items = _items(_ctx(tmp_path, "tests.sources.custom_plugin", "Plain", rows=2))
    assert items == [[{"row": 0}, {"row": 1}], NewCursor(None)]


def test_an_error_in_user_code_names_pipeline_class_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(FAILING)
    ctx = _ctx(tmp_path, "broken", "Broken")
    it = extractor_for(ctx.pipeline.source).extract(ctx)
    assert next(it) == [{"a": 1}]
    with pytest.raises(ExtractError) as err:
        next(it)
    assert err.value.message == (
        "sys.tbl: custom extractor broken.Broken failed: ZeroDivisionError: division by zero "
        f"at {tmp_path / 'broken.py'}:3 in helper; fix the extractor (run with --debug for the full traceback)"
    )


def test_a_missing_module_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match=r"sys\.tbl: cannot find module 'nope_mod' .*looked in"):
        _items(_ctx(tmp_path, "nope_mod", "X"))


def test_a_missing_class_suggests_the_closest(tmp_path: Path) -> None:
    (tmp_path / "streaming.py").write_text(STREAMING)
    with pytest.raises(ExtractError, match="has no class 'Countr'; did you mean 'Counter'"):
        _items(_ctx(tmp_path, "streaming", "Countr"))


def test_an_import_time_error_is_an_extract_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ExtractError, match="could not be imported: RuntimeError: boom"):
        _items(_ctx(tmp_path, "broken", "X"))


def test_yielding_a_non_batch_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("class B:\n    def extract(self, ctx):\n        yield 'oops'\n")
    with pytest.raises(ExtractError, match="yielded str"):
        _items(_ctx(tmp_path, "broken", "B"))


def test_old_style_records_are_handed_on_in_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("foundry_dsl.sources.custom.RECORDS_PER_BATCH", 2)
    items = _items(_ctx(tmp_path, "tests.sources.custom_plugin", "Plain", rows=5))
    assert [len(b) for b in items[:-1]] == [2, 2, 1]


def test_spec_config_has_the_original_shape_with_secret_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ENV", "tok-123")
    p = ir.Pipeline(
        system="sys", table="tbl",
        platform=ir.Platform(name="p", storage=ir.S3Storage(bucket="b", prefix="bronze", secret_key=ir.EnvRef(name="SK"))),
        source=ir.CustomSource(module="m", class_name="C", params={"token": ir.EnvRef(name="TOKEN_ENV")}),
    )
    cfg = spec_config(p)
    assert cfg["source"]["custom_extractor"] == {"module": "m", "class_name": "C", "params": {"token": "tok-123"}}
    assert (cfg["platform"]["bronze"]["s3_bucket"], cfg["platform"]["bronze"]["s3_prefix"]) == ("b", "bronze")
    assert cfg["platform"]["bronze"]["secret_key_env"] == "SK"
    assert cfg["source"]["run"]["max_file_size_mb"] == 0
    assert extractor_for(p.source).secrets() == ["tok-123"]


def test_arrow_tables_from_a_streaming_class_pass_through(tmp_path: Path) -> None:
    (tmp_path / "streaming.py").write_text(
        "import pyarrow as pa\nclass T:\n    def extract(self, ctx):\n        yield pa.table({'a': [1]})\n"
    )
    assert _items(_ctx(tmp_path, "streaming", "T"))[0].equals(pa.table({"a": [1]}))


SUBCLASS = '''
from foundry_dsl.sources.base import Estimate, Extractor

class Split(Extractor):
    def prepare(self, ctx):
        self.report["prepared"] = ctx.pipeline.source.params["n"]
        return {"bounds": [0, 2, ctx.pipeline.source.params["n"]]}

    def parts(self, ctx):
        return len(ctx.prepared["bounds"]) - 1

    def extract(self, ctx, part=0):
        lo, hi = ctx.prepared["bounds"][part], ctx.prepared["bounds"][part + 1]
        yield [{"i": i} for i in range(lo, hi)]

    def merge_cursors(self, cursors):
        return "+".join(c for c in cursors if c)

    def estimate_live(self, ctx):
        return Estimate(rows=ctx.pipeline.source.params["n"], detail="asked the class")
'''


def _subclass(tmp_path: Path, code: str = SUBCLASS, **params: object) -> tuple[ExtractContext, object]:
    (tmp_path / "streaming.py").write_text(code)
    ctx = _ctx(tmp_path, "streaming", "Split", **(params or {"n": 5}))
    return ctx, extractor_for(ctx.pipeline.source)


def test_prepare_of_a_subclass_is_handed_on_and_its_result_reaches_each_part(tmp_path: Path) -> None:
    import dataclasses

    ctx, ext = _subclass(tmp_path)
    ctx = dataclasses.replace(ctx, prepared=ext.prepare(ctx))  # type: ignore[attr-defined]
    assert ctx.prepared == {"bounds": [0, 2, 5]}
    assert ext.parts(ctx) == 2  # type: ignore[attr-defined]
    assert [list(ext.extract(ctx, part)) for part in (0, 1)] == [  # type: ignore[attr-defined]
        [[{"i": 0}, {"i": 1}]],
        [[{"i": 2}, {"i": 3}, {"i": 4}]],
    ]


def test_the_report_of_a_subclass_is_the_run_s_report(tmp_path: Path) -> None:
    ctx, ext = _subclass(tmp_path)
    ext.prepare(ctx)  # type: ignore[attr-defined]
    assert ext.report == {"prepared": 5}  # type: ignore[attr-defined]


def test_merge_cursors_of_a_subclass_is_handed_on(tmp_path: Path) -> None:
    ctx, ext = _subclass(tmp_path)
    ext.prepare(ctx)  # type: ignore[attr-defined]
    assert ext.merge_cursors(["a", None, "b"]) == "a+b"  # type: ignore[attr-defined]


def test_an_error_in_prepare_names_the_method_and_the_line(tmp_path: Path) -> None:
    code = "from foundry_dsl.sources.base import Extractor\nclass Split(Extractor):\n" \
           "    def prepare(self, ctx):\n        return {}['x']\n" \
           "    def extract(self, ctx, part=0):\n        yield []\n"
    ctx, ext = _subclass(tmp_path, code)
    with pytest.raises(ExtractError) as err:
        ext.prepare(ctx)  # type: ignore[attr-defined]
    assert err.value.message == (
        "sys.tbl: custom extractor streaming.Split failed in prepare(): KeyError: 'x' "
        f"at {tmp_path / 'streaming.py'}:4 in prepare; fix the extractor (run with --debug for the full traceback)"
    )


def test_parts_that_is_not_a_number_is_a_clear_error(tmp_path: Path) -> None:
    code = "from foundry_dsl.sources.base import Extractor\nclass Split(Extractor):\n" \
           "    def parts(self, ctx):\n        return '2'\n" \
           "    def extract(self, ctx, part=0):\n        yield []\n"
    ctx, ext = _subclass(tmp_path, code)
    with pytest.raises(ExtractError, match=r"Split\.parts returned str; it must return the number of parts"):
        ext.parts(ctx)  # type: ignore[attr-defined]


def test_a_plain_estimate_never_imports_user_code(tmp_path: Path) -> None:
    ctx, ext = _subclass(tmp_path)
    assert ext.estimate(ctx) is None  # type: ignore[attr-defined]
    assert "streaming" not in sys.modules


def test_a_live_estimate_asks_the_subclass(tmp_path: Path) -> None:
    ctx, ext = _subclass(tmp_path)
    estimate = ext.estimate_live(ctx)  # type: ignore[attr-defined]
    assert (estimate.rows, estimate.detail) == (5, "asked the class")


def test_old_style_classes_have_one_part_no_prepare_and_no_estimate(tmp_path: Path) -> None:
    (tmp_path / "my_extractor.py").write_text(SPEC_EXTRACTOR)
    ctx = _ctx(tmp_path, "my_extractor", "MyCustomExtractor", api_url="u")
    ext = extractor_for(ctx.pipeline.source)
    assert (ext.prepare(ctx), ext.parts(ctx), ext.estimate_live(ctx)) == (None, 1, None)
    assert ext.merge_cursors([None, "cursor-tbl"]) == "cursor-tbl"

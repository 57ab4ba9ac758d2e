"""`.bronze` files to IR: imports, platforms, templates and their override rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.frontends.load import load

REPO = Path(__file__).resolve().parents[2]

PLATFORM = 'platform dev {\n  storage local {\n    path = "./out"\n  }\n  formats = [parquet, csv]\n}\n'


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compile_text(project_dir: Path, text: str) -> ir.Project:
    (project_dir / "main.bronze").write_text(text)
    return load(["main.bronze"])


def test_pipeline_gets_the_named_platform_inline(project_dir: Path) -> None:
    project = compile_text(
        project_dir,
        'import "platform.bronze"\npipeline a.b {\n  platform = dev\n'
        '  source files { paths = ["x.csv"] }\n}\n',
    )
    (p,) = project.pipelines
    assert (p.system, p.table) == ("a", "b")
    assert p.platform.name == "dev"
    assert p.platform.storage == ir.LocalStorage(path="./out")


def test_run_formats_default_to_the_platforms(project_dir: Path) -> None:
    project = compile_text(
        project_dir,
        'import "platform.bronze"\npipeline a.b {\n  platform = dev\n'
        '  source files { paths = ["x.csv"] }\n}\n',
    )
    assert project.pipelines[0].run.formats == ("parquet", "csv")


def test_the_only_visible_platform_is_used_when_none_is_named(project_dir: Path) -> None:
    project = compile_text(
        project_dir, 'import "platform.bronze"\npipeline a.b {\n  source files { paths = ["x"] }\n}\n'
    )
    assert project.pipelines[0].platform.name == "dev"


def test_several_pipelines_in_one_file(project_dir: Path) -> None:
    body = '  source files { paths = ["x"] }\n'
    project = compile_text(
        project_dir,
        f'import "platform.bronze"\npipeline a.one {{\n{body}}}\npipeline a.two {{\n{body}}}\n',
    )
    assert [p.name for p in project.pipelines] == ["a.one", "a.two"]


def test_sizes_durations_and_secrets_become_ir_values(project_dir: Path) -> None:
    project = compile_text(
        project_dir,
        'import "platform.bronze"\npipeline a.b {\n  source db {\n    connection = env("PG")\n'
        '    query = "SELECT 1"\n    incremental_key = "u"\n    lookback = 10m\n  }\n'
        "  run { max_file_size = 8MB }\n}\n",
    )
    p = project.pipelines[0]
    assert isinstance(p.source, ir.DbSource)
    assert p.source.connection.name == "PG"
    assert p.source.lookback == 600.0
    assert p.run.max_file_size == 8 * 1024 * 1024


def test_a_template_supplies_every_field_not_overridden(project_dir: Path) -> None:
    (project_dir / "tpl.bronze").write_text(
        'source svc api {\n  base_url = "https://svc.test"\n  auth bearer { token = env("T") }\n'
        "  params { limit = 10, state = \"open\" }\n  paginate offset { limit = 10 }\n}\n"
    )
    project = compile_text(
        project_dir,
        'import "platform.bronze"\nimport "tpl.bronze"\npipeline a.b {\n'
        '  source svc {\n    endpoint = "/items"\n    params { state = "all" }\n  }\n}\n',
    )
    src = project.pipelines[0].source
    assert isinstance(src, ir.ApiSource)
    assert src.base_url == "https://svc.test"
    assert src.endpoint == "/items"
    assert src.params == {"limit": 10, "state": "all"}  # same block: merged field by field
    assert src.auth == ir.BearerAuth(token=ir.EnvRef(name="T"))


def test_a_block_of_another_kind_replaces_the_templates(project_dir: Path) -> None:
    (project_dir / "tpl.bronze").write_text(
        'source svc api {\n  base_url = "https://svc.test"\n  paginate offset { limit = 10 }\n}\n'
    )
    project = compile_text(
        project_dir,
        'import "platform.bronze"\nimport "tpl.bronze"\npipeline a.b {\n'
        "  source svc {\n    paginate link {}\n  }\n}\n",
    )
    assert project.pipelines[0].source.paginate == ir.LinkPagination()  # type: ignore[union-attr]


def test_a_template_may_build_on_another(project_dir: Path) -> None:
    (project_dir / "tpl.bronze").write_text(
        'source base api {\n  base_url = "https://svc.test"\n  timeout = 5s\n}\n'
        'source items base {\n  endpoint = "/items"\n}\n'
    )
    project = compile_text(
        project_dir,
        'import "platform.bronze"\nimport "tpl.bronze"\npipeline a.b {\n  source items {}\n}\n',
    )
    src = project.pipelines[0].source
    assert isinstance(src, ir.ApiSource)
    assert (src.base_url, src.endpoint, src.timeout) == ("https://svc.test", "/items", 5.0)


def test_stdlib_imports_resolve_from_the_shipped_stdlib(project_dir: Path) -> None:
    project = compile_text(
        project_dir,
        'import "platform.bronze"\nimport "stdlib/apis/github.bronze"\npipeline gh.issues {\n'
        '  source github { endpoint = "/repos/o/r/issues" }\n}\n',
    )
    src = project.pipelines[0].source
    assert isinstance(src, ir.ApiSource)
    assert src.paginate == ir.LinkPagination()
    assert src.auth == ir.BearerAuth(token=ir.EnvRef(name="GITHUB_TOKEN"))


def test_pipelines_of_imported_files_do_not_run(project_dir: Path) -> None:
    (project_dir / "other.bronze").write_text(
        'import "platform.bronze"\npipeline x.y {\n  source files { paths = ["x"] }\n}\n'
    )
    project = compile_text(
        project_dir,
        'import "other.bronze"\npipeline a.b {\n  source files { paths = ["x"] }\n}\n',
    )
    assert [p.name for p in project.pipelines] == ["a.b"]


def test_ir_nodes_keep_the_position_they_were_written_at(project_dir: Path) -> None:
    project = compile_text(
        project_dir,
        'import "platform.bronze"\npipeline a.b {\n  source api {\n'
        '    base_url = "https://x.test"\n    auth bearer { token = env("T") }\n  }\n}\n',
    )
    src = project.pipelines[0].source
    assert isinstance(src, ir.ApiSource) and isinstance(src.auth, ir.BearerAuth)
    assert (src.span.file, src.span.line, src.span.col) == ("main.bronze", 3, 3)  # type: ignore[union-attr]
    assert (src.auth.token.span.line, src.auth.token.span.col) == (5, 27)  # type: ignore[union-attr]


def test_repository_examples_validate() -> None:
    files = sorted(str(p) for p in (REPO / "pipelines").glob("*.bronze"))
    files += sorted(str(p) for p in (REPO / "stdlib").rglob("*.bronze"))
    project = load(files)
    assert {p.source.kind for p in project.pipelines} == {"api", "db", "files", "custom"}
    assert {p.platform.partition for p in project.pipelines} == {
        "date", "hourly", "timestamp", "batch_id", "none"
    }
    assert {p.platform.storage.kind for p in project.pipelines} >= {"local", "s3", "azure", "gcs"}

"""What an apply leaves behind on local disk, and what its failure message says of it:
no `./output/` when the platform writes elsewhere, no staging after a failed `prepare`,
and "nothing is committed yet" when nothing ever was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import foundry

DATE = "2025-01-12"

SOURCES = """
from foundry_dsl.sources.base import Extractor


class Fine(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": 1}, {"id": 2}]


class BadPrepare(Extractor):
    def prepare(self, ctx):
        raise RuntimeError("cannot reach the source")

    def extract(self, ctx, part=0):
        yield [{"id": 1}]


class BadExtract(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": 1}]
        raise RuntimeError("the source went away")
"""


def _project(folder: Path, class_name: str, cleanup: str = "true") -> Path:
    (folder / "sources.py").write_text(SOURCES)
    (folder / "p.bronze").write_text(f"""platform lake {{
  storage local {{
    path = "lake"
  }}
}}

pipeline lab.rows {{
  platform = lake
  source custom {{
    module = "sources"
    class_name = "{class_name}"
  }}
  run {{
    max_rows_per_file = 1
    cleanup_on_failure = {cleanup}
  }}
}}
""")
    return folder


def _footer(stderr: str) -> str:
    """The failure message's second line: what became of the partition and the staging."""
    lines = stderr.splitlines()
    return next(lines[i + 1] for i, line in enumerate(lines) if " failed: " in line).strip()


def test_an_apply_whose_platform_writes_elsewhere_leaves_no_output_folder(tmp_path: Path) -> None:
    out = foundry(_project(tmp_path, "Fine"), "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "p.bronze", "sources.py"]


def test_an_output_folder_the_user_made_is_left_in_place(tmp_path: Path) -> None:
    (tmp_path / "output").mkdir()
    out = foundry(_project(tmp_path, "Fine"), "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "output").iterdir()) == []


def test_a_failure_in_prepare_leaves_no_staging(tmp_path: Path) -> None:
    out = foundry(_project(tmp_path, "BadPrepare"), "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 1
    assert not (tmp_path / "output").exists()


def test_a_failure_in_prepare_says_nothing_of_staging(tmp_path: Path) -> None:
    out = foundry(_project(tmp_path, "BadPrepare"), "apply", "p.bronze", "--date", DATE)
    assert _footer(out.stderr) == (
        f"nothing is committed at lake/system=lab/table=rows/dt={DATE}/ yet. "
        "Fix the cause and run `foundry apply` again."
    )


def test_a_failure_while_landing_removes_the_staging_and_says_so(tmp_path: Path) -> None:
    out = foundry(_project(tmp_path, "BadExtract"), "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 1
    assert not (tmp_path / "output").exists()
    assert _footer(out.stderr).endswith(
        "yet; staging was cleaned up. Fix the cause and run `foundry apply` again."
    )


def test_a_failure_with_cleanup_off_says_where_the_staging_is_kept(tmp_path: Path) -> None:
    out = foundry(_project(tmp_path, "BadExtract", cleanup="false"), "apply", "p.bronze",
                  "--date", DATE)
    (kept,) = (tmp_path / "output" / "_staging" / "lab.rows").iterdir()
    assert f"; staging kept in {kept}. " in _footer(out.stderr)


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (False, f"nothing is committed at lake/system=lab/table=rows/dt={DATE}/ yet"),
        (True, f"the committed partition lake/system=lab/table=rows/dt={DATE}/ is unchanged"),
    ],
)
def test_a_failure_says_whether_a_commit_was_there_before(
    before: bool, said: str, tmp_path: Path
) -> None:
    _project(tmp_path, "Fine")
    if before:
        assert foundry(tmp_path, "apply", "p.bronze", "--date", DATE).returncode == 0
    _project(tmp_path, "BadExtract")
    out = foundry(tmp_path, "apply", "p.bronze", "--date", DATE)
    assert _footer(out.stderr).startswith(said + "; ")

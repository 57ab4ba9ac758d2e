"""Source kinds from installed packages (the ``foundry.sources`` entry point group)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as ds

from tests.e2e.helpers import DATE, REPO, foundry

PIPELINE = """\
platform lake {
  storage local { path = "lake" }
}

pipeline math.squares {
  source squares { upto = 4 }
}
"""


def _install(site: Path) -> dict[str, str]:
    """A distribution's metadata on the path, as pip leaves it, naming the kind."""
    dist = site / "foundry_squares-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: foundry-squares\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[foundry.sources]\nsquares = tests.sources.plugin_kind:Squares\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}


def test_an_installed_kind_is_written_like_a_built_in_one_and_lands(tmp_path: Path) -> None:
    env = _install(tmp_path / "site")
    (tmp_path / "p.bronze").write_text(PIPELINE)
    done = foundry(tmp_path, "apply", "p.bronze", "--date", DATE, env=env)
    assert done.returncode == 0, done.stderr
    table = ds.dataset(tmp_path / "lake", format="parquet", partitioning="hive").to_table()
    assert sorted(zip(table.column("n").to_pylist(), table.column("square").to_pylist(),
                      strict=True)) == [(1, 1), (2, 4), (3, 9), (4, 16)]


def test_without_the_package_the_kind_is_unknown_with_a_positioned_error(tmp_path: Path) -> None:
    (tmp_path / "p.bronze").write_text(PIPELINE)
    done = foundry(tmp_path, "validate", "p.bronze")
    assert done.returncode == 1
    assert "p.bronze:6:10: error: unknown source kind or template 'squares'" in done.stderr


def test_an_installed_kind_is_offered_as_did_you_mean(tmp_path: Path) -> None:
    env = _install(tmp_path / "site")
    (tmp_path / "p.bronze").write_text(PIPELINE.replace("source squares", "source squares2"))
    done = foundry(tmp_path, "validate", "p.bronze", env=env)
    assert done.returncode == 1
    assert "did you mean 'squares'?" in done.stderr

"""`foundry` alone is a usage error: the usage on stderr, exit 2, as for a missing argument."""

from __future__ import annotations

from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import foundry


def test_foundry_without_a_command_prints_the_usage_and_exits_2(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    out = foundry(tmp_path)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == snapshot


def test_foundry_with_only_an_option_exits_2(tmp_path: Path) -> None:
    out = foundry(tmp_path, "--debug")
    assert out.returncode == 2
    assert out.stderr.endswith("foundry: error: name a command, e.g. foundry validate FILE\n")

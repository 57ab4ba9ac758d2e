"""scripts/install_azurite.sh installs a tree that runs on this machine's Node.

The script installs ``scripts/azurite/package-lock.json`` with ``npm ci
--engine-strict``: every package it pins must accept the Node that runs the
tests (no EBADENGINE), and the tree in ``.cache/node`` must be that lockfile's.
The ranges are checked with npm's own ``semver`` (installed with azurite).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PINS = REPO / "scripts" / "azurite" / "package-lock.json"
PREFIX = REPO / ".cache" / "node"

CHECK = """
const semver = require(process.argv[1]);
const lock = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const bad = Object.entries(lock.packages)
  .filter(([, p]) => p.engines && typeof p.engines.node === "string")
  .filter(([, p]) => !semver.satisfies(process.version, p.engines.node))
  .map(([name, p]) => `${name}@${p.version} wants node ${p.engines.node}`);
console.log(JSON.stringify(bad));
"""


@pytest.fixture(scope="module")
def installed() -> Path:
    if shutil.which("node") is None or not (PREFIX / "node_modules" / "semver").is_dir():
        pytest.fail("Azurite is not installed: run scripts/install_azurite.sh (bash scripts/test does)")
    return PREFIX


def test_every_pinned_package_accepts_the_node_on_this_machine(installed: Path) -> None:
    out = subprocess.run(
        ["node", "-e", CHECK, str(installed / "node_modules" / "semver"), str(PINS)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(out.stdout) == []


def test_the_installed_tree_is_the_pinned_one(installed: Path) -> None:
    lock = json.loads(PINS.read_text())
    azurite = json.loads((installed / "node_modules" / "azurite" / "package.json").read_text())
    assert (installed / "package-lock.json").read_text() == PINS.read_text()
    assert azurite["version"] == lock["packages"]["node_modules/azurite"]["version"]

"""Mutated pipeline files never escape as anything but foundry's own error type.

Starts from the repository's real pipelines, deletes, inserts and swaps tokens,
and compiles the result through the whole front end (parse, imports,
templates, lowering), not only the parser.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_dsl.errors import FoundryError
from foundry_dsl.frontends.load import load

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "pipelines").glob("*.bronze"))
TOKEN_RE = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|\s+|[^\s"]+')
NOISE = ["{", "}", "=", "[", "]", ",", '"', '"""', "env(", ")", "\n", "10MB", "5m", "2025-02-30",
         "platform", "source", "pipeline", "import", "kind", "x.y.z", "-1", "null", "#"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    seed = draw(st.sampled_from(SEEDS))
    tokens = TOKEN_RE.findall(seed.read_text())
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))  # whitespace is a token too: newlines matter
        op = draw(st.sampled_from(["delete", "insert", "swap", "duplicate"]))
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(NOISE)))
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, tokens[i])
    return seed.name, "".join(tokens)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_only_foundry_errors_escape(case: tuple[str, str], tmp_path: Path) -> None:
    work = tmp_path / "p"
    if not work.exists():
        shutil.copytree(REPO / "pipelines", work, ignore=shutil.ignore_patterns("data"))
    name, text = case
    target = work / f"mutated_{name}"
    target.write_text(text)
    try:
        load([str(target)])
    except FoundryError as exc:
        assert exc.render()  # rendering the message must not fail either

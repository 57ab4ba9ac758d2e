"""The quick reader (frontends/bronze/fast.py) gives the thorough parser's tree, or gives up.

For every well-formed text it reads, the tree must equal the one Lark's parser
and ``build`` give; for every text the thorough parser rejects, it must give up
(so every error is still found and worded by ``parser``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from foundry_dsl.errors import ConfigError
from foundry_dsl.frontends.bronze import fast, parser
from foundry_dsl.frontends.bronze import tree as syntax

REPO = Path(__file__).resolve().parents[3]
F = "t.bronze"

SNIPPETS = [
    "",
    "\n\n",
    "# only a comment",
    '# a header\n#\n\n# of two paragraphs\nimport "x.bronze"\na {}\n',
    "# a header above a block\na {\n  x = 1\n}\n",
    'import "platforms.bronze"\nimport "stdlib/apis/github.bronze"  # trailing\n',
    "a {}",
    "a { }\n\n\nb {\n}\n",
    'a b "c d" {\n  x = 1, y = 2,\n  z = [1, 2,\n    3,]\n}\n',
    'a {\n  s = "esc \\" \\\\ \\n \\u00e9"\n  "quoted key" = true\n  n = null\n  f = false\n}\n',
    'a {\n  q = """\n    SELECT 1\n      FROM t\n    """\n  r = """x"""\n}\n',
    'a {\n  d = 2025-01-12\n  t = 2025-01-12T14:30:00Z\n  u = 2025-01-12T14:30:00.25+02:00\n'
    "  s = 128MB\n  m = 5m\n  x = -1.5e3\n  i = 1_000_000\n  e = 1.5GB\n}\n",
    'a {\n  e = env("TOKEN")\n  l = [env("A"), env(\n    "B",\n  )]\n}\n',
    "a {\n  m = { x = 1, y = { z = [1, { w = 2 }] } }\n  n = {\n    p = 1\n\n    q = 2\n  }\n}\n",
    "a {\n  l = [\n    # a comment inside a list\n    1,  # after one\n    2\n  ]  # after the list\n}\n",
    "# head\n\n# above a\na {  # trailing a\n  # above x\n  x = 1  # trailing x\n  b c {\n    y = 2\n  }  # after b\n"
    "  # inner\n}\n# at the end\n",
    "a {\r\n  x = 1\r\n  y = \"z\"\r\n}\r\n",
    'a { x = 1 }\nb c.d { e = ident.with.dots, f = [a, b.c] }\n',
    "a {\n\tx =\t1\f\n}\n",
    'a {\n  "k.with.dots" = "v"\n  empty = ""\n  list = []\n  map = {}\n}\n',
    'pipeline shop.orders {\n  platform = demo\n  source files {\n    paths = ["data/*.csv"]\n'
    "    format = csv\n  }\n  run {\n    formats = [parquet, csv]\n    max_file_size = 8MB\n  }\n}\n",
]

# texts the thorough parser rejects: the quick reader must give up on each
BROKEN = [
    "a { x = 1 y = 2 }",
    "a {",
    "a { x = }",
    "x = 1",
    "a.b { }",
    "a { b.c = 1 }",
    'a { x = "unclosed }',
    'a { x = """never closed }',
    "a { x = foo(1) }",
    'a { x = env() }',
    'a { x = env("") }',
    'a { x = env("A", "B") }',
    "a { x = 12XB }",
    "a { x = 2025-13-40 }",
    'a { x = "bad \\q escape" }',
    "a {} b {}",
    "a { x = [1 2] }",
    "a { x = [,] }",
    "a\n{ }",
    "a { x =\n 1 }",
    "a { x = 1 } }",
    "a { @ }",
    "import x",
    'import "a" import "b"',
    "a { import = 1 }",
    "a { x = { b {} } }",
]


def _thorough(text: str) -> syntax.File:
    return parser._parse(text, F)


def _files() -> list[Path]:
    roots = [REPO / "pipelines", REPO / "stdlib", REPO / "docs"]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.bronze"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_file_is_read_quickly_to_the_same_tree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    got = fast.parse(text, str(path))
    assert got is not None
    assert got == parser._parse(text, str(path))


@pytest.mark.parametrize("text", SNIPPETS)
def test_a_well_formed_text_gives_the_same_tree(text: str) -> None:
    got = fast.parse(text, F)
    assert got is not None
    assert got == _thorough(text)


@pytest.mark.parametrize("text", BROKEN)
def test_a_text_with_a_mistake_is_left_to_the_parser(text: str) -> None:
    with pytest.raises(ConfigError):
        _thorough(text)
    assert fast.parse(text, F) is None


def test_deep_nesting_is_left_to_the_parser() -> None:
    text = "a { x = " + "[" * 60 + "]" * 60 + " }"
    assert fast.parse(text, F) is None
    assert parser.parse(text, F) == _thorough(text)


ALPHABET = ['"', "{", "}", "[", "]", "(", ")", "=", ",", "\n", " ", "#", "a", "1", ".", "-",
            '"""', "\\", "env(", "\r\n", "\t", "é", "MB", ":"]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(text))
        choice = rng.random()
        if choice < 0.4 and text:
            text = text[:i] + text[i + rng.randint(1, 4):]  # delete
        elif choice < 0.8:
            text = text[:i] + rng.choice(ALPHABET) + text[i:]  # insert
        else:
            j = rng.randint(0, len(text))
            text = text[:i] + text[min(i, j):max(i, j)] + text[i:]  # duplicate a slice
    return text


@pytest.mark.parametrize("seed", range(25))
def test_mutated_texts_give_the_same_tree_or_are_left_to_the_parser(seed: int) -> None:
    rng = random.Random(seed)
    corpus = [*SNIPPETS, *(p.read_text(encoding="utf-8") for p in _files()[:8])]
    for _ in range(40):
        text = _mutate(rng, rng.choice(corpus))
        got = fast.parse(text, F)
        if got is None:
            continue
        assert got == _thorough(text), text

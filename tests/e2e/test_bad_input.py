"""Bad input, one row each: `foundry` refuses it with a message, never a traceback.

Every row is a project folder the row sets up (pipeline files, a state file, a
storage layout), a command run as a subprocess, and what must come out: exit code
1, the message fragment (positioned ``file:line:col: error:`` for mistakes found
at compile time), no ``Traceback``, and nothing written outside the storage root:
``elsewhere/``, a folder beside the root ``out/``, is exactly as the row left it
(empty unless the row put someone's files there as a link target).

To add a row: append a :class:`Case` to ``CASES`` under its heading. Rows other
engineers will add (leave the headings; one behaviour per row):

- units: quantities with a wrong or missing unit (``timeout = 30 parsecs``, sizes)
- deep YAML: nesting and aliases deep or wide enough to exhaust the reader
- URL secrets: credentials in URLs (``https://user:pass@host``) must not be echoed
  back (use ``absent``)
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.helpers import foundry

DATE = "2025-01-12"
ROOT = "out"  # the storage root, relative to the project folder
SIBLING = "elsewhere"  # beside the root: must never be written
PARTITION = f"system=shop/table=orders/dt={DATE}"


@dataclass(frozen=True)
class Case:
    id: str
    command: str  # validate | plan | apply
    files: dict[str, str]  # file name -> text; the first is the one the command is given
    expected: str  # a fragment of the output; {root} and {project} stand for those folders
    setup: Callable[[Path], None] | None = None  # lays out state or storage in the project
    absent: tuple[str, ...] = ()  # fragments that must not appear (secrets)
    env: dict[str, str] | None = None


def bronze(storage: str, source: str = "") -> dict[str, str]:
    """``pipeline.bronze``: platform ``lake`` on ``storage``, pipeline shop.orders."""
    source = source or 'source files {\n    paths = ["data/*.csv"]\n    format = csv\n  }'
    text = textwrap.dedent("""\
        platform lake {
          storage %s
        }

        pipeline shop.orders {
          platform = lake
          %s
        }
        """) % (storage, source)
    return {"pipeline.bronze": text}


LOCAL = bronze('local {\n    path = "out"\n  }')
# an incremental source that is never contacted: the run stops before it extracts
INCREMENTAL = bronze(
    'local {\n    path = "out"\n  }',
    'source api {\n'
    '    base_url = "http://127.0.0.1:9"\n'
    '    endpoint = "/orders"\n'
    '    retry {\n      max_attempts = 1\n    }\n'
    '    incremental {\n      field = "updated_at"\n      param = "since"\n    }\n'
    '  }',
)


def state_file(entry: object) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / ROOT / "_state" / "system=shop" / "table=orders.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(entry))
    return setup


def linked(link: str, *, with_files: bool = True) -> Callable[[Path], None]:
    """``out/<link>`` a symbolic link to ``elsewhere/target``, holding someone's files."""
    def setup(project: Path) -> None:
        target = project / SIBLING / "target"
        target.mkdir(parents=True)
        if with_files:
            (target / "hour=01").mkdir()
            (target / "hour=01" / "keep.txt").write_text("not foundry's")
            (target / "part-0001.parquet").write_text("not foundry's either")
        path = project / ROOT / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target, target_is_directory=True)
    return setup


def data(project: Path) -> None:
    (project / "data").mkdir()
    (project / "data" / "orders.csv").write_text("order_id,amount\n1,2.5\n")


CASES = [
    # --- storage: a bucket, container or prefix that climbs out of its bucket ------------
    Case("s3-bucket-dotdot", "validate",
         bronze('s3 {\n    bucket = "b/../other"\n  }'),
         "pipeline.bronze:3:14: error: storage s3: bucket 'b/../other' contains a path "
         "separator: a bucket is a single name; the folders inside it go in prefix"),
    Case("s3-prefix-dotdot", "plan",
         bronze('s3 {\n    bucket = "b"\n    prefix = "bronze/../../other"\n  }'),
         "pipeline.bronze:4:14: error: storage s3: prefix 'bronze/../../other' has a '..' "
         "segment"),
    Case("azure-container-dotdot", "validate",
         bronze('azure {\n    container = ".."\n  }'),
         "pipeline.bronze:3:17: error: storage azure: container '..' is '..'"),
    Case("azure-prefix-empty-segment", "apply",
         bronze('azure {\n    container = "bronze"\n    prefix = "raw//x"\n  }'),
         "pipeline.bronze:4:14: error: storage azure: prefix 'raw//x' has an empty segment"),
    Case("gcs-bucket-backslash", "validate",
         bronze('gcs {\n    bucket = "b\\\\..\\\\other"\n  }'),
         "pipeline.bronze:3:14: error: storage gcs: bucket 'b\\\\..\\\\other' contains a path "
         "separator"),
    Case("gcs-prefix-dot", "plan",
         bronze('gcs {\n    bucket = "b"\n    prefix = "./raw"\n  }'),
         "pipeline.bronze:4:14: error: storage gcs: prefix './raw' has a '.' segment"),
    Case("yaml-s3-bucket-dotdot", "validate",
         {"shop.yaml": textwrap.dedent("""\
             platform:
               bronze:
                 s3_bucket: "lake/../other"
             source:
               type: "api"
               system: "shop"
               table: "orders"
               api:
                 base_url: "https://api.example.com"
             """)},
         "shop.yaml:3:16: error: storage s3: bucket 'lake/../other' contains a path separator"),
    # --- state: a hand-edited cursor that is not a string ---------------------------------
    Case("state-cursor-number", "apply", INCREMENTAL,
         "the cursor state at {root}/_state/system=shop/table=orders.json holds cursor = 42 "
         "(a number), where a string is expected; write that value as a JSON string, in "
         "quotes (\"42\", not 42), or run `foundry state reset shop.orders -f FILE`",
         setup=state_file({"cursor": 42})),
    Case("state-cursor-list", "apply", INCREMENTAL,
         'holds cursor = ["2025-01-12"] (a list), where a string is expected',
         setup=state_file({"cursor": ["2025-01-12"]})),
    Case("state-cursor-object", "apply", INCREMENTAL,
         'holds cursor = {"since": "2025-01-12"} (an object), where a string is expected',
         setup=state_file({"cursor": {"since": "2025-01-12"}})),
    Case("state-partition-null", "apply", INCREMENTAL,
         "holds partition = null, where a string is expected",
         setup=state_file({"cursor": "2025-01-12T00:00:00Z", "partition": None})),
    # --- local disk: a symbolic link out of the storage root -------------------------------
    Case("symlinked-partition", "apply", LOCAL,
         "{root}/" + PARTITION + " is a symbolic link (to {project}/" + SIBLING + "/target); foundry "
         "never follows a link out of the storage root {root}, so nothing was moved: remove "
         "the link",
         setup=linked(PARTITION)),
    Case("symlinked-table-folder", "apply", LOCAL,
         "{root}/system=shop/table=orders is a symbolic link",
         setup=linked("system=shop/table=orders", with_files=False)),
    Case("symlinked-leftover-staging", "apply", LOCAL,
         "{root}/_foundry/staging/" + PARTITION + "/attempt-0badf00d is a symbolic link",
         setup=linked(f"_foundry/staging/{PARTITION}/attempt-0badf00d")),
    # --- units: quantities with a wrong or missing unit (to be added) ---------------------
    # --- deep YAML: nesting or aliases that exhaust the reader (to be added) ---------------
    # --- URL secrets: credentials in URLs never echoed back (to be added) -------------------
]


def _tree(folder: Path) -> dict[str, str]:
    """Every entry below ``folder``: files with their content, links with their target."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = path.read_text()
    return out


@pytest.mark.skipif(os.name == "nt", reason="rows lay out symbolic links")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_a_message(tmp_path: Path, case: Case) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / SIBLING).mkdir()
    for name, text in case.files.items():
        (project / name).write_text(text)
    data(project)
    if case.setup:
        case.setup(project)
    before = _tree(project / SIBLING)

    args = [case.command, next(iter(case.files))]
    if case.command == "apply":
        args += ["--date", DATE]
    out = foundry(project, *args, env=case.env)

    output = out.stdout + out.stderr
    expected = case.expected.replace("{root}", str(project / ROOT)).replace(
        "{project}", str(project)
    )
    assert out.returncode == 1, output
    assert expected in output
    assert "Traceback" not in output
    for fragment in case.absent:
        assert fragment not in output
    assert _tree(project / SIBLING) == before

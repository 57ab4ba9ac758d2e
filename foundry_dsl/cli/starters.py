"""CLI layer: the starter pipelines ``foundry init KIND NAME`` writes, one per source kind.

Each is a commented ``.bronze`` file that validates and is formatted as written
(``tests/cli/test_init.py`` runs ``foundry validate`` and ``foundry fmt --check``
on each), landing on local disk so that ``plan`` and ``apply`` need no cloud
account. ``{system}`` and ``{table}`` are filled in; a custom starter comes with
the Python module its pipeline names.
"""

from __future__ import annotations

KINDS = ("api", "db", "files", "custom")

#: the table a starter lands when NAME gives only the system
TABLES = {"api": "issues", "db": "orders", "files": "orders", "custom": "readings"}

_HEAD = """\
# {file}: a starter pipeline written by `foundry init {kind} {name}`.
# Edit it, then:
#
#   foundry validate {file}     # check it
#   foundry plan {file}         # what apply would write, writing nothing
#   foundry apply {file}        # land the data
#
# The language: docs/language.md. Secrets are only ever env("NAME").

# Where and how data lands: Bronze files under ./output on local disk, one folder
# per day (system={system}/table={table}/dt=YYYY-MM-DD/). For S3 instead:
#   storage s3 {{
#     bucket = "my-bronze"
#     access_key = env("BRONZE_S3_ACCESS_KEY")
#     secret_key = env("BRONZE_S3_SECRET_KEY")
#   }}
platform local_lake {{
  storage local {{
    path = "./output"
  }}
  partition = date
  formats = [parquet]
}}

"""

_API = """\
# GitHub's issues of one repository, a page of 100 at a time, following the
# Link header. Works without a token (60 requests an hour); with one, uncomment auth.
pipeline {system}.{table} {{
  platform = local_lake
  source api {{
    base_url = "https://api.github.com"
    endpoint = "/repos/duckdb/duckdb/issues"
    params {{
      state = "all"
      per_page = 100
    }}
    # auth bearer {{
    #   token = env("GITHUB_TOKEN")
    # }}
    paginate link {{}}
    # records = "data"          # where the rows are when a response wraps them
    # incremental {{             # fetch only what changed since the last run
    #   field = "updated_at"    # each row's cursor field
    #   param = "since"         # the request parameter that takes the cursor
    # }}
  }}
  run {{
    max_file_size = 128MB
  }}
}}
"""

_DB = """\
# One query over ODBC, incremental on a column that only grows: each run reads
# the rows after the last cursor landed. The connection string is a secret:
#   export {env}="Driver={{PostgreSQL Unicode}};Server=localhost;Database=shop;Uid=me;Pwd=..."
pipeline {system}.{table} {{
  platform = local_lake
  source db {{
    connection = env("{env}")
    query = \"\"\"
      SELECT order_id, customer_id, total_amount, updated_at
      FROM orders
    \"\"\"
    incremental_key = "updated_at"
    # lookback = 10m                 # re-read late commits
    # partition_column = "order_id"  # read in parallel ranges
    # partitions = 4
    batch_size = 10_000
  }}
  run {{
    max_file_size = 256MB
    workers = 2
  }}
}}
"""

_FILES = """\
# CSV files matched by a glob, relative to this file's folder. Other formats:
# json, ndjson, parquet (or auto, from each file's extension).
pipeline {system}.{table} {{
  platform = local_lake
  source files {{
    paths = ["data/*.csv"]
    format = csv
    # delimiter = ";"
    # header = false
  }}
  run {{
    max_file_size = 128MB
  }}
}}
"""

_CUSTOM = """\
# Your own Python: the class {class_name} in {module}.py, beside this file
# (docs/extending.md). Its params reach it as ctx.pipeline.source.params.
pipeline {system}.{table} {{
  platform = local_lake
  source custom {{
    module = "{module}"
    class_name = "{class_name}"
    params {{
      rows = 100
    }}
  }}
}}
"""

CUSTOM_MODULE = '''\
"""The source of {file}: rows from your own code, one batch at a time.

extract(ctx) yields batches: lists of dicts, or Arrow tables. Yield as many as
you like; foundry writes them as they come, so memory holds one batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class {class_name}:
    def extract(self, ctx: Any) -> Iterator[list[dict[str, Any]]]:
        rows = int(ctx.pipeline.source.params.get("rows", 100))
        day = ctx.run_date.isoformat()
        yield [{{"id": i, "day": day, "value": i * 1.5}} for i in range(1, rows + 1)]
'''

BODIES = {"api": _API, "db": _DB, "files": _FILES, "custom": _CUSTOM}


def starter(kind: str, *, file: str, name: str, system: str, table: str, module: str) -> str:
    """The ``.bronze`` text of a starter pipeline of ``kind``."""
    fields = {
        "file": file, "kind": kind, "name": name, "system": system, "table": table,
        "module": module, "class_name": CLASS_NAME,
        "env": f"{system.upper().replace('-', '_')}_ODBC",
    }
    return (_HEAD + BODIES[kind]).format(**fields)


CLASS_NAME = "StarterSource"

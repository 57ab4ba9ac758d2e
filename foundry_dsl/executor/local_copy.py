"""Runtime layer: the committed partition kept on local disk too (``keep_local_files``).

The original tool wrote each partition under ``local_output_dir`` and uploaded
it, keeping the local files: its Quick Start ends with
``ls -la output/system=*/table=*/dt=*/``. With ``keep_local_files`` (the YAML
front end's default; ``.bronze``: ``run { keep_local_files = true }``) a run
that uploads to an object store does the same once its commit is in place:
``<local_output_dir>/<partition>/`` then holds the files under their committed
names and the committed ``_metadata.json``, and nothing else.

The files are moved from the run's scratch when they are there (the local
executor wrote them), else downloaded from the committed partition (units
landed on other machines). The copy is built in a hidden folder beside the
partition and swapped in, so a reader of the local folder sees the previous
copy or the new one; the previous copy is then removed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundry_dsl.storage.layout import METADATA_FILE


def keep_local_copy(
    *,
    scratch_dir: Path,
    staging: Path | None,
    partition_path: str,
    run_id: str,
    staged: list[tuple[str, str, int]],
    metadata: dict[str, Any],
    download: Callable[[str, str], None],
) -> Path:
    """Put the committed partition under ``scratch_dir``; returns its folder.

    ``staged``: (name as written, name in the partition, bytes) of each file;
    ``download(final_name, local_path)`` fetches a committed file not in ``staging``.
    """
    target = scratch_dir / partition_path.strip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.parent / f".{target.name}.{run_id}"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    try:
        for written, final, _size in staged:
            local = staging / written if staging is not None else None
            if local is not None and local.is_file():
                shutil.move(str(local), fresh / final)
            else:
                download(final, str(fresh / final))
        text = json.dumps(metadata, indent=2, sort_keys=True, default=str)
        (fresh / METADATA_FILE).write_text(text, encoding="utf-8")
        _swap_in(fresh, target, run_id)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return target


def _swap_in(fresh: Path, target: Path, run_id: str) -> None:
    if not target.exists():
        os.replace(fresh, target)
        return
    old = target.parent / f".{target.name}.{run_id}.old"
    os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)

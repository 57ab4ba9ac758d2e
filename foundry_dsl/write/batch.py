"""What a source hands the write stage: the one type both sides agree on.

Arrow record batches or tables, or lists of dicts (the original tool's records).
It lives here, below the sources, so that the write stage never imports a source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import pyarrow as pa

Batch = Union["pa.RecordBatch", "pa.Table", list[dict[str, Any]]]

"""API source through faults: 100k records with over 10% of requests failing land exactly."""

from __future__ import annotations

import pyarrow as pa
import pytest

from foundry_dsl import ir
from tests.fixtures.api_server import (
    ApiServer,
    run,
    source,
    typed_record,
)

N = 100_000
RETRY = ir.RetryPolicy(max_attempts=10, backoff=0.01, max_backoff=0.05)


def extracted(src: ir.ApiSource) -> pa.Table:
    tables, _ = run(src)
    return pa.concat_tables(tables, promote_options="permissive")


def assert_exact(table: pa.Table, api: ApiServer) -> None:
    assert table.num_rows == N
    assert table.column("id").to_pylist() == list(range(N))  # every record, once, in order
    assert table.to_pylist() == [typed_record(i) for i in range(N)]
    injected = sum(api.faults.injected.values())
    assert injected >= 0.10 * len(api.log), (injected, len(api.log))
    assert set(api.faults.injected) == set(api.faults.kinds)


@pytest.mark.slow
def test_offset_extraction_through_faults_is_exact(api: ApiServer) -> None:
    api.inject(0.2, slow=0.4, retry_after="0")
    src = source(api.url, "offset", records="data", params={"n": N}, retry=RETRY, timeout=0.3,
                 paginate=ir.OffsetPagination(limit=1000, total_path="total"))
    assert_exact(extracted(src), api)


@pytest.mark.slow
def test_cursor_extraction_through_faults_is_exact(api: ApiServer) -> None:
    api.inject(0.2, slow=0.4, retry_after="0")
    src = source(api.url, "cursor", records="data", params={"n": N, "size": 1000}, retry=RETRY,
                 timeout=0.3, paginate=ir.CursorPagination(cursor_path="next_cursor"))
    assert_exact(extracted(src), api)

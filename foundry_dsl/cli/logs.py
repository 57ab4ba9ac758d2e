"""Runtime layer: how a run is shown — rich progress on a terminal, log lines otherwise.

Hands the executor a :class:`~foundry_dsl.executor.base.Progress`:
:class:`RichProgress` (per pipeline: records, files, bytes, rate) when stderr
is a terminal, :class:`LogProgress` (one plain or JSON log line per event)
when it is not or ``--log-format json`` is asked for. Every log record passes
through :class:`RedactFilter`, which replaces the values of the secrets the
pipelines reference (their ``env(...)`` variables, and the credentials their
URLs carry) with ``***``, and masks the userinfo and secret-looking query
parameters of any URL in the text: the last line of defence, whatever logged it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from foundry_dsl import ir, urls
from foundry_dsl.cli.render.units import files, human_bytes, human_count, human_seconds
from foundry_dsl.errors import redact
from foundry_dsl.executor.base import PipelineResult

LOGGER = "foundry"

#: env(...) fields that name where, not a secret: redacting them would only hide
#: useful context (an endpoint URL in an error message)
NOT_SECRET_FIELDS = frozenset(
    {"base_url", "endpoint", "region", "project", "account_name", "client_id", "username"}
)
#: fields holding a URL, whose userinfo and secret query params are secrets all the same
URL_FIELDS = frozenset({"base_url", "endpoint", "token_url"})


def secret_values(pipelines: Iterable[ir.Pipeline]) -> set[str]:
    """The current values of every secret ``env(...)`` the pipelines reference, and the
    credentials in their URLs (``https://user:password@host``, ``?access_token=...``)."""
    names: set[str] = set()
    links: set[str] = set()
    for p in pipelines:
        _env_names(p, None, names, links)
    found = {v for n in names if (v := os.environ.get(n))}
    for link in links:
        found.update(urls.url_secrets(link))
    return found


def _env_names(value: Any, field: str | None, out: set[str], links: set[str]) -> None:
    if isinstance(value, ir.EnvRef):
        if field not in NOT_SECRET_FIELDS:
            out.add(value.name)
        elif field in URL_FIELDS and (link := os.environ.get(value.name)):
            links.add(link)
    elif isinstance(value, str):
        if field in URL_FIELDS:
            links.add(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _env_names(getattr(value, name), name, out, links)
    elif isinstance(value, dict):
        for v in value.values():
            _env_names(v, field, out, links)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _env_names(v, field, out, links)


class RedactFilter(logging.Filter):
    """Masks secrets in every record: its message (with its arguments), its traceback and
    the text fields a JSON line carries. Known secret values become ``***``, and so do the
    userinfo and secret-looking query params of every URL, known or not."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set(secrets)

    def clean(self, text: str) -> str:
        return urls.redact_text(redact(text, self.secrets) if self.secrets else text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.clean(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        for key in JsonFormatter.FIELDS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.clean(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the event's fields."""

    FIELDS = ("pipeline", "event", "rows", "files", "bytes", "file", "status", "seconds", "task")

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.FIELDS:
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        return json.dumps(doc, ensure_ascii=False)


#: text log lines: ``2025-01-12 14:30:00 INFO message`` (local time, as the spec's logs)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
TEXT_DATES = "%Y-%m-%d %H:%M:%S"


class ConsoleHandler(logging.Handler):
    """Writes each record through a rich Console: the one the live progress draws on,
    so a log line goes above the progress lines instead of into them."""

    def __init__(self, console: Any) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            # text, never markup: messages quote task ids like "write[csv]"
            self.console.print(Text(self.format(record)), soft_wrap=True, highlight=False)
        except Exception:
            self.handleError(record)


def setup_logging(
    log_format: str = "text",
    secrets: Iterable[str] = (),
    level: int = logging.INFO,
    console: Any = None,
) -> RedactFilter:
    """Route foundry's loggers to stderr in ``text`` or ``json``, secrets redacted.

    ``console``: a rich Console to write text lines through (the one a live
    progress display uses); otherwise lines go straight to stderr.
    """
    handler: logging.Handler
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        handler = ConsoleHandler(console) if console is not None else logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATES))
    redactor = RedactFilter(secrets)
    handler.addFilter(redactor)
    logger = logging.getLogger(LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return redactor


class LogProgress:
    """A log line per event: for CI logs, pipes and ``--log-format json``."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger(f"{LOGGER}.apply")

    def started(self, name: str, partition: str) -> None:
        self.log.info(f"{name}: started, landing in {partition}", extra={"pipeline": name, "event": "started"})

    def extracted(self, name: str, rows: int) -> None:
        self.log.debug(f"{name}: extracted {human_count(rows)} rows", extra={"pipeline": name, "event": "extracted", "rows": rows})

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        self.log.info(
            f"{name}: wrote {file} ({human_count(rows)} rows, {human_bytes(nbytes)})",
            extra={"pipeline": name, "event": "file", "file": file, "rows": rows, "bytes": nbytes},
        )

    def finished(self, result: PipelineResult) -> None:
        extra = {
            "pipeline": result.name,
            "event": "finished",
            "status": result.status,
            "rows": result.rows,
            "files": result.files,
            "bytes": result.bytes,
            "seconds": round(result.seconds, 3),
        }
        if result.status == "succeeded" and result.note:
            self.log.info(f"{result.name}: {result.note}", extra=extra)
        elif result.status == "succeeded":
            self.log.info(
                f"{result.name}: committed {human_count(result.rows)} rows in {files(result.files)} "
                f"({human_bytes(result.bytes)}) in {human_seconds(result.seconds)}",
                extra=extra,
            )
        else:
            self.log.error(result.error or f"{result.name}: failed", extra={**extra, "task": result.task})


class RichProgress:
    """Live per-pipeline progress on a terminal: records, files, bytes and rate."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._stats: dict[str, dict[str, float]] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _render(self, name: str) -> str:
        s = self._stats[name]
        elapsed = max(1e-6, time.monotonic() - s["t0"])
        return (
            f"{human_count(int(s['rows']))} records, {files(int(s['files']))}, "
            f"{human_bytes(int(s['bytes']))}, {human_count(int(s['rows'] / elapsed))} rows/s"
        )

    def started(self, name: str, partition: str) -> None:
        with self._lock:
            self._stats[name] = {"rows": 0, "files": 0, "bytes": 0, "t0": time.monotonic()}
            self._tasks[name] = self.progress.add_task(name, total=None, stats=self._render(name))

    def extracted(self, name: str, rows: int) -> None:
        with self._lock:
            self._stats[name]["rows"] += rows
            self.progress.update(self._tasks[name], stats=self._render(name))

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        with self._lock:
            self._stats[name]["files"] += 1
            self._stats[name]["bytes"] += nbytes
            self.progress.update(self._tasks[name], stats=self._render(name))

    def finished(self, result: PipelineResult) -> None:
        with self._lock:
            mark = "[green]done[/]" if result.status == "succeeded" else "[red]failed[/]"
            self.progress.update(
                self._tasks[result.name],
                total=1,
                completed=1,
                description=f"{result.name} {mark}",
                stats=self._render(result.name),
            )

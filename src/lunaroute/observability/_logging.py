"""Logging set-up: JSON lines when not on a terminal, readable text on one; secrets never logged."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["configure_logging"]

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {"message", "asctime"}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v!r}" for k, v in vars(record).items() if k not in _RESERVED)
        line = (
            f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.getMessage()}"
        )
        line = line.replace("\n", "\\n").replace("\r", "\\r")
        return f"{line} {extras}" if extras else line


def configure_logging(level: str, fmt: str = "auto") -> None:
    """Send `lunaroute.*` logs to stderr at `level`, as JSON (`json`), text (`text`) or by terminal (`auto`).

    aiohttp's own loggers (`aiohttp.*`: the server's parser and handler errors) go to the same handler, so every
    line on stderr has the same shape: one JSON object per record, a traceback inside it as the `exc` string.
    """
    use_text = fmt == "text" or (fmt == "auto" and sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TextFormatter() if use_text else _JsonFormatter())
    for name in ("lunaroute", "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(_LEVELS[level])
        logger.propagate = False

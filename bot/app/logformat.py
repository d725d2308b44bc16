"""How log records are written: `log_format = "text"` (one readable line) or `"json"` (one JSON
object a line, for log shippers), through python-json-logger.

Both formats write the same fields of a record, after the same scrubbing: `bot.app.cli`'s
`SecretScrubber` runs as a handler filter before either formatter and rewrites the message, the
traceback text and the stack text. The JSON formatter therefore takes the traceback from that
scrubbed text instead of formatting the exception again, and it writes no `extra=` attributes
(the text format does not show them either, so neither format can leak one).
"""

from __future__ import annotations

import logging
from typing import Any, Final, Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
LOG_FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JSON_FIELDS: Final = ("asctime", "levelname", "name", "message")


class ScrubbedJsonFormatter(JsonFormatter):
    """One JSON object per record: time, level, logger, message, and the scrubbed traceback."""

    def __init__(self) -> None:
        super().__init__(
            list(JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def format(self, record: logging.LogRecord) -> str:
        if not record.exc_text:
            return super().format(record)
        # The scrubber has already turned the exception into scrubbed text: use that, never a
        # fresh (unscrubbed) rendering of record.exc_info.
        exc_info, record.exc_info = record.exc_info, None
        try:
            return super().format(record)
        finally:
            record.exc_info = exc_info

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        for name in JSON_FIELDS:
            log_data[self._get_rename(name)] = record.__dict__.get(name)
        for key in ("exc_info", "stack_info"):
            if message_dict.get(key):
                log_data[key] = message_dict[key]


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of `log_format` ("text" or "json")."""
    if log_format == "json":
        return ScrubbedJsonFormatter()
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(
        f"unknown log format {log_format!r}; expected one of {', '.join(LOG_FORMATS)}"
    )

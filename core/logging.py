"""Structured logs: one JSON object a line, from every process.

A record carries what identifies the work (booking id, workflow id and run, activity type,
task queue) and never personal data: the messages name ids, never customers. Temporal's
workflow and activity loggers put their context in `temporal_workflow` / `temporal_activity`.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Extras worth keeping, as Temporal's loggers and our own code pass them.
_CONTEXT_KEYS = ("temporal_workflow", "temporal_activity", "booking_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT_KEYS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Every record of this process to standard output as JSON (worker; the API's uvicorn
    reads the same formatter from core/logging.json)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # stripe-python logs every request and every response at INFO: two JSON lines per call,
    # about 2 % of the worker's CPU at booking start (issue 13). What each call returned is in
    # the workflow's history; Stripe's warnings and errors still come through.
    logging.getLogger("stripe").setLevel(max(logging.WARNING, logging.getLevelName(level)))

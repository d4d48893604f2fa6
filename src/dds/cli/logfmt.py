"""How `dds serve` logs: one line per event, text for people or JSON for log shippers.

`DDS_LOG_FORMAT=json` writes one JSON object per line with the structured fields the service
attaches (access log: method, route, status, ms; job events: job, status, instance). Alembic's
plugin and migration chatter is left out (warnings still show).
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime

from dds.api import observe

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record over as it is: formatting and writing happen on the listener's thread,
    not on the event loop (an access-log line per request must not cost the API a write)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


def configure(fmt: str, *, access_log: bool = True) -> None:
    global _listener
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if _listener is not None:
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=False)
    _listener.start()
    atexit.register(_listener.stop)  # what is queued is written before the process ends
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    observe.FAST_ACCESS_LOG = None
    if access_log:
        observe.FAST_ACCESS_LOG = observe.AccessLog(sys.stderr, fmt)
        observe.FAST_ACCESS_LOG.start()
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("dds.access").setLevel(logging.INFO if access_log else logging.WARNING)  # the embedded path
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True

"""Logging: a few named loggers, a rotating file in the platform's log folder, and no secrets.

Loggers (children of ``mabgui``): ``engine``, ``process``, ``buildx``, ``binfmt``, ``build``,
``registry``, ``ui``. Modules take theirs with :func:`get`. :func:`setup` is called once by the
CLI and by the app; it installs a rotating file handler (``log_dir()/mabgui.log``) and, when
asked, a stderr handler. A :class:`Redactor` filter on every handler masks the values registered
with :func:`add_secret` (build-arg and secret values, passwords, tokens) and credential-looking
patterns, so no credential reaches a log even when a caller forgets.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

ROOT = "mabgui"
AREAS = ("engine", "process", "buildx", "binfmt", "build", "registry", "ui")
MAX_BYTES = 2_000_000
BACKUPS = 3
MASK = "***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
# Header- and URL-shaped credentials: "Authorization: Bearer x", "password=x", "token": "x",
# "https://user:pass@host".
_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*(?:basic|bearer)\s+)\S+"),
    re.compile(r"(?i)((?:password|passwd|secret|token|access_token|refresh_token|identitytoken)"
               r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]+"),
    re.compile(r"(://[^/\s:@]+:)[^@/\s]+(@)"),
)  # fmt: skip


def get(area: str) -> logging.Logger:
    """The logger of one area, e.g. ``get("buildx")`` → ``mabgui.buildx``."""
    return logging.getLogger(f"{ROOT}.{area}")


def add_secret(value: str) -> None:
    """Mask ``value`` wherever it would appear in a log record from now on."""
    if value and len(value) >= 3:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and credential-looking pattern masked."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""),
                           text)  # fmt: skip
    return text


class Redactor(logging.Filter):
    """Formats the record's message once, redacted, so handlers never see raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def log_dir() -> Path:
    """The platform's per-user log folder for mabgui (``MABGUI_LOG_DIR`` overrides it; not
    created here)."""
    override = os.environ.get("MABGUI_LOG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_dir("mabgui", appauthor=False))


_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup(
    *, verbose: int = 0, to_stderr: bool = False, directory: Path | None = None
) -> Path | None:
    """Configure the ``mabgui`` loggers once; returns the log file, or None when it cannot be
    written (a read-only home must not stop the app). ``verbose`` 1 → INFO, 2+ → DEBUG on stderr.
    """
    root = logging.getLogger(ROOT)
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    redactor = Redactor()
    path: Path | None = None
    try:
        # ImportError: platformdirs unreadable (another user running this interpreter).
        folder = directory or log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "mabgui.log"
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        file_handler.addFilter(redactor)
        root.addHandler(file_handler)
    except (OSError, ImportError):
        path = None
    if to_stderr or verbose:
        stream = logging.StreamHandler()
        stream.setLevel(
            logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
        )
        stream.setFormatter(logging.Formatter("mabgui: %(levelname)s %(name)s: %(message)s"))
        stream.addFilter(redactor)
        root.addHandler(stream)
    return path

"""One run at a time per run directory: an OS lock (``flock``) on ``RUN_DIR/run.lock``.

The operating system releases the lock when its process ends, however it ends (SIGKILL
included), so a stale lock never blocks a directory. The file also holds the holder's PID
and start time, so a second run can say who holds it. Readers (``report``, ``export``) do
not take the lock: they read the store read-only, also while a run writes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from derm_stress.errors import RunLocked

LOCK_NAME = "run.lock"


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lock_holder(run_dir: str | Path) -> dict[str, Any] | None:
    """Who holds ``run_dir``'s lock now (``pid``, ``host``, ``started``), or ``None`` when no
    process does. Opens the lock file read-only: nothing is written."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fh = path.open("rb")
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(path)
        except OSError:  # a file system without locks: nobody can hold it
            return None
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


class RunLock:
    """Exclusive lock on a run directory for the duration of a ``with`` block; raises
    ``RunLocked`` (naming the holder's PID) when another process holds it."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        # opened without truncating (another holder's record stays readable until we hold
        # the lock) and, unlike "a+", writable at the start
        fh = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666), "r+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            holder = _read_holder(self.path)
            who = f"process {holder.get('pid', '?')}"
            if holder.get("host") and holder["host"] != socket.gethostname():
                who += f" on {holder['host']}"
            since = f", running since {holder['started']}" if holder.get("started") else ""
            raise RunLocked(
                f"{self.path.parent} is in use by another derm-stress run ({who}{since}); "
                "wait for it to finish or stop it, or give another --out"
            ) from None
        fh.seek(0)
        fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
            )
        )
        # cut what an older, longer record left after it: truncating to the new length
        # after writing, not to zero before, since ext4 writes back on close a file that
        # was truncated to zero and written (``auto_da_alloc``; 1-2 ms of every run)
        fh.truncate()
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

"""One training process per run directory: the lock file ``train.lock``.

:func:`~.loop.train` holds an exclusive lock on ``<run>/train.lock`` from before it reads the
directory until it returns, so a second ``train(..., resume=True)`` on the same directory fails
at once naming the holder (pid, host and start time, written into the file) instead of training
the same steps again. The lock is the operating system's (``flock`` on Unix, ``LockFileEx`` on
Windows, through :func:`filelock.lock_descriptor`): it is released when its process exits,
however it exits, so a SIGKILLed run leaves a stale *file*, never a stale lock; the next run
overwrites the old holder. The file is never deleted (a process that deleted it could let a
second one lock a new file while a third still holds the old one). A child forked by the
holder (``multiprocessing`` with ``fork``) shares its descriptor, and so the lock, until it
exits too.

Under several processes only the main one takes the lock: the directory belongs to the run,
not to a process, and a second launch is refused through its own main process (its other
processes stop with it, see :mod:`.ranks`). A lock per process would let the processes of two
launches each hold some of the locks.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import lock_descriptor

LOCK_FILE = "train.lock"


class RunLocked(RuntimeError):
    """Another process is training into the run directory; the message names it."""


@contextlib.contextmanager
def run_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the lock of run directory ``out_dir`` (created if missing) for the ``with`` block;
    :class:`RunLocked` naming the holder if another process holds it (no waiting)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # never truncated before it is ours
    try:
        if not lock_descriptor(fd, blocking=False):
            raise RunLocked(
                f"{out_dir} is being trained by {_holder(fd)}; wait for it to finish, or stop "
                f"it (its lock goes with it) and resume"
            )
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.ctime()}
        _rewrite(fd, json.dumps(me).encode())
        try:
            yield path
        finally:
            _rewrite(fd, b"")
    finally:
        os.close(fd)  # releases the lock


def _rewrite(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says."""
    try:
        holder = json.loads(os.read(fd, 4096))
        return f"process {holder['pid']} on host {holder['host']} (since {holder['since']})"
    except (ValueError, KeyError, TypeError):  # taken a moment ago: not written yet
        return "another process (which has not written its pid and host yet)"

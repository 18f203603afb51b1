"""One output folder belongs to one run at a time: ``DIR/.lock``.

The lock file holds the owner's pid, host and process start time (JSON). A run takes it with
``flock`` (released by the kernel when the process dies, however it dies) and, so that a lock
written by another tool or a run whose ``flock`` did not reach this file system is honoured
too, also refuses while the file names a process of this host that is still alive. A dead
run's lock never blocks: its ``flock`` is gone and its pid is no longer alive (or alive as a
different process: the recorded start time differs), so the next run takes the folder over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

LOCK_NAME = ".lock"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str | None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if started is not None and _start_time(pid) not in (None, started):
        return False  # the pid was reused by another process
    return True


class FolderLock:
    """``with FolderLock(out):`` owns ``out`` for the block; ``ValueError`` if a live run owns
    it. The folder must exist. The lock file is removed on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def _owner(self, fd: int) -> dict:
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        except (ValueError, OSError):
            return {}
        return data if isinstance(data, dict) else {}

    def _refuse(self, owner: dict) -> ValueError:
        who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
        return ValueError(
            f"--out {self.folder} is in use by another run ({who}, lock {self.path}); "
            "wait for it to end or use another folder"
        )

    def acquire(self) -> None:
        host = socket.gethostname()
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o644)  # fmt: skip
            except OSError as exc:  # a symlink (ELOOP), a folder, no permission...
                raise ValueError(f"--out {self.folder}: cannot open its lock file {self.path} "
                                 f"({exc.strerror or exc})") from None  # fmt: skip
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = self._owner(fd)
                os.close(fd)
                raise self._refuse(owner) from None
            except OSError:
                pass  # no flock on this file system: the pid check below still holds
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous owner removed the file between open and flock
                os.close(fd)
                continue
            owner = self._owner(fd)
            pid = owner.get("pid")
            if (owner.get("host") == host and isinstance(pid, int) and pid != os.getpid()
                    and _alive(pid, owner.get("started"))):  # fmt: skip
                os.close(fd)
                raise self._refuse(owner)
            record = {"pid": os.getpid(), "host": host, "started": _start_time(os.getpid())}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
            self._fd = fd
            return

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""One run per output folder: ``<output>/run.lock`` holds the owner's pid, host and start time.

A second run into a locked folder is refused (two runs would interleave ``log.txt`` and overwrite
each other's checkpoints). A lock whose process is gone (same host, pid not alive) is stale and
taken over with a note. A lock from another host cannot be checked, so it is refused with the
command that removes it.
"""
from __future__ import annotations

import json
import os
import socket
import time

from ..errors import UserInputError

LOCK_FILE = "run.lock"


class OutputLockedError(UserInputError):
    """Another run holds the output folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class OutputLock:
    """``with OutputLock(dir):`` or ``acquire()`` / ``release()``; re-entrant within a process."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, LOCK_FILE)
        self.held = False

    def _owner(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        os.makedirs(self.output_dir, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                pid, host = owner.get("pid"), owner.get("host")
                if pid == me["pid"] and host == me["host"]:
                    return  # this process already holds it
                if host == me["host"] and isinstance(pid, int) and not _alive(pid):
                    print(f"Note: taking over the stale lock of process {pid} (no longer running) in {self.output_dir}")
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass
                    continue
                if host == me["host"] and isinstance(pid, int):
                    raise OutputLockedError(
                        f'"{self.output_dir}" is in use by another run (pid {pid}, since {owner.get("since")}). '
                        "Nothing was changed. Wait for it to finish, or use another --output-dir.")
                raise OutputLockedError(
                    f'"{self.output_dir}" is locked by a run on host {host or "?"} (pid {pid}, since '
                    f'{owner.get("since")}), which cannot be checked from here. Nothing was changed. If no run uses '
                    f'that folder any more, delete {self.path}; otherwise use another --output-dir.')
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
            self.held = True
            return
        raise OutputLockedError(f'Could not lock "{self.output_dir}": other runs keep taking it. Use another '
                                "--output-dir.")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._owner().get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

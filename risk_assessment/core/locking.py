"""The workspace's writer lock: one writer at a time, and what a killed writer left.

A bottom helper (standard library and common.py): every writing script takes the lock
in main() (writer_lock), fullprocess.py holds it for a whole cycle (WriterLock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from risk_assessment.core.common import LockError, now_iso


class WriterLock:
    """The one exclusive lock every writer of a workspace takes (flock on a file in the
    output folder): ingestion, training, scoring, deployment and fullprocess.

    The kernel drops a flock when its holder dies, so a lock left by a killed run is
    stale by construction: the file stays, the lock does not, and the next run takes it.
    """

    FILE = ".writer.lock"

    def __init__(self, folder: Path, who: str):
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path, self.who, self.fh = Path(folder) / self.FILE, who, None
        self.previous = ""

    def acquire(self, wait_seconds: float = 0.0) -> bool:
        """True once this process holds the lock; False if another holder kept it for
        wait_seconds. The holder's description is in self.previous."""
        fh = open(self.path, "a+")  # noqa: SIM115 (held open while the lock is held)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    self.previous = fh.read().strip() or "another process"
                    fh.close()
                    return False
                time.sleep(0.2)
        fh.seek(0)
        self.previous = fh.read().strip()
        fh.seek(0)
        fh.truncate()
        fh.write(f"{self.who} pid {os.getpid()} since {now_iso()}\n")
        fh.flush()
        self.fh = fh
        return True

    def release(self) -> None:
        """Empty the lock file (a clean exit) and unlock."""
        if self.fh:
            self.fh.seek(0)
            self.fh.truncate()
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def remove_stale_temps(config: dict[str, Any]) -> list[Path]:
    """Delete what a killed writer left half-written: `.*.tmp` files (write_atomic) in
    the output folders and `.staging-*` folders (deployment) under versions/. Only the
    holder of the writer lock calls this, so no live writer owns them."""
    gone = []
    folders = [config[k] for k in ("output_folder_path", "output_model_path")]
    prod = config["prod_deployment_path"]
    for folder in [*folders, prod]:
        gone += [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    gone += [p for p in (prod / "versions").glob(".staging-*") if p.is_dir()]
    for path in gone:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return gone


@contextmanager
def writer_lock(config: dict[str, Any], who: str):
    """Hold the workspace's writer lock for a hand run: wait lock.wait_seconds, then
    raise LockError naming the holder."""
    lock = WriterLock(config["output_folder_path"], who)
    if not lock.acquire(config["lock"]["wait_seconds"]):
        raise LockError(
            f"{lock.path}: held by {lock.previous} (waited {config['lock']['wait_seconds']:g} s);"
            " try again when it has finished"
        )
    remove_stale_temps(config)
    try:
        yield lock
    finally:
        lock.release()

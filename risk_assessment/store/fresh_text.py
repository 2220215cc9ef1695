"""A big fresh batch's finaldata.csv text, made by a child process while the parent
commits the batch to SQLite.

The two are independent work for the two halves of a 2-core machine: inserting a million
rows of 24 values is sqlite3 binding Python values (2.2 s), and the export's text is
formatting and joining the same values (1.3 s); a thread cannot overlap them (both hold
the GIL; measured: 4.3 s either way). A forked child inherits the values without copying
them, writes the text of the batch's labelled rows to a temp file in the output folder
(`.finaldata.csv.fresh-*.tmp`) and exits; the parent uses that text only when the store
then confirms what the child assumed: the batch's rows are the newest observations and
none of them repeats an earlier one (fresh.fresh_span). Otherwise, or when the child
failed, the parent formats the rows itself, as before. Either way the bytes are the
same (tests/store/test_fresh_text.py).

The parent always reaps the child and deletes the file (FreshText.close); a killed parent
leaves a child that finishes on its own and a temp file that the next writer removes
with the other half-written files (core/locking.remove_stale_temps). The child touches
nothing but that file, and leaves by os._exit (no cleanup of the parent's state: open
connections, locks, log handlers). Where os.fork does not exist, nothing changes.

A part of store.py; standard library only.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path

from risk_assessment.core.common import FINALDATA

from risk_assessment.core.columns import ColumnSchema
from risk_assessment.store.files import columns_csv
from risk_assessment.store.fresh import FRESH_CHUNK, Fresh, Span, fresh_chunks

PARALLEL_ROWS = 100_000  # below this a child costs more than the text


class FreshText:
    """A child process writing a fresh batch's export text (see the module docstring)."""

    def __init__(self, pid: int, path: Path):
        self.pid, self.path = pid, path
        self.status: int | None = None  # the child's exit status, once reaped

    @classmethod
    def start(
        cls,
        folder: Path,
        sources: Sequence[Sequence],
        schema: ColumnSchema,
        min_rows: int = PARALLEL_ROWS,
    ) -> FreshText | None:
        """Fork a child writing the text of the sources' labelled rows (as fresh_chunks
        gives them with no repeat); None when fork is missing or the rows are few."""
        rows = sum(len(columns[0]) for columns in sources if columns)
        if not hasattr(os, "fork") or rows < min_rows:
            return None
        try:  # the first ingestion makes the output folder
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{FINALDATA}.fresh-", suffix=".tmp")
            os.close(fd)
        except OSError:  # no temp file, no child: the parent writes the text
            return None
        pid = os.fork()
        if pid == 0:  # the child: write the text, then leave without any cleanup
            code = 1
            try:
                write_text(Path(name), Fresh(0, sources), schema)
                code = 0
            finally:
                os._exit(code)
        return cls(pid, Path(name))

    def result(self) -> bytes | None:
        """Wait for the child; the text it wrote, or None when it failed."""
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        if self.status != 0:
            return None
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def close(self) -> None:
        """Stop the child if it still runs, reap it, delete its file."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.status = os.waitpid(self.pid, 0)[1] or -1  # killed: never used
        self.path.unlink(missing_ok=True)


def write_text(path: Path, fresh: Fresh, schema: ColumnSchema) -> None:
    """The batch's labelled rows as finaldata.csv lines (without the header), to path."""
    with path.open("wb") as out:
        for chunk in fresh_chunks(fresh, Span(0, set()), schema, FRESH_CHUNK):
            out.write(columns_csv(chunk, schema).encode("utf-8"))

"""A function's result computed by a forked child while the parent goes on: the second
core of a 2-core machine for work that is independent and needs no lock, no database and
no thread pool (numpy, pandas and scipy.stats; never scikit-learn, whose OpenMP threads
do not survive a fork).

The child inherits the arguments without copying them, sends back its result pickled
through a pipe and leaves by os._exit (none of the parent's cleanup runs twice). The
parent reads the result when it needs it; when fork does not exist, the child failed or
sent nothing, the parent computes the result itself: the same answer either way, only
later. A parent that fails meanwhile stops and reaps the child (close); one killed
leaves a child that finishes, finds the pipe closed and exits. Used for training's
profiles (modelling/training.py: 0.5 s of a million rows, made while the model is
fitted).
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable
from typing import Any


class Forked:
    """fn(*args), computed by a child process started now (see the module docstring)."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self.fn, self.args = fn, args
        self.pid: int | None = None
        self.pipe: int | None = None
        if not hasattr(os, "fork"):
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without any cleanup
            code = 1
            try:
                os.close(read)
                payload = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self.pid, self.pipe = pid, read

    def result(self) -> Any:
        """The child's result (waiting for it), or fn(*args) computed here."""
        if self.pid is None:
            return self.fn(*self.args)
        with os.fdopen(self.pipe, "rb") as pipe:
            payload = pipe.read()
        status = os.waitpid(self.pid, 0)[1]
        self.pid = None
        if status != 0 or not payload:
            return self.fn(*self.args)
        return pickle.loads(payload)  # noqa: S301 (our own child's bytes, through a pipe)

    def close(self) -> None:
        """Stop a child whose result is not wanted (the parent failed meanwhile) and reap
        it; nothing once result() was called."""
        if self.pid is None:
            return
        os.close(self.pipe)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.pid = None

"""core/forked.py: a function's result made by a forked child, or by the parent when the
child fails; the same answer either way."""

from __future__ import annotations

import os

import numpy as np
import pytest

from risk_assessment.core.forked import Forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this system")


def whose(tag: str) -> tuple[str, int]:
    """The tag and the process that computed it."""
    return tag, os.getpid()


def test_the_result_comes_from_a_child():
    """fn runs in another process; its result comes back through the pipe."""
    tag, pid = Forked(whose, "x").result()
    assert tag == "x" and pid != os.getpid()


def test_a_result_larger_than_the_pipe_comes_back_whole():
    """Megabytes (a pipe holds 64 KiB) are read while the child writes them."""
    values = np.arange(2_000_000, dtype=np.float64)
    assert np.array_equal(Forked(np.sqrt, values).result(), np.sqrt(values))


PARENT = os.getpid()


def fails_in_a_child() -> int:
    """Raises anywhere but in the parent (the test's own process)."""
    if os.getpid() != PARENT:
        raise RuntimeError("the child fails")
    return 42


def test_a_failed_child_leaves_the_result_to_the_parent():
    """The child exits non-zero: the parent computes fn itself, and no child is left."""
    forked = Forked(fails_in_a_child)
    pid = forked.pid
    assert forked.result() == 42
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


def test_a_result_not_wanted_is_stopped_and_reaped():
    """close() before result(): the child (blocked on a pipe nobody reads) is gone."""
    forked = Forked(np.ones, 5_000_000)  # 40 MB: more than the pipe holds
    pid = forked.pid
    forked.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    forked.close()  # twice: nothing

"""The grader learns that a forked harness has ended from the end of a pipe only the harness holds
(course.grading.verification.HarnessBesideKernel); that wait must work however many fds the worker has open."""

from __future__ import annotations

import os
import resource
import threading
import time

import pytest

from course.grading.verification import HarnessBesideKernel

SELECT_LIMIT = 1024  # select.select refuses fds from here on


@pytest.fixture
def many_open_fds():
    """Fds up to past SELECT_LIMIT held open, as a worker grading many notebooks at once holds them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < SELECT_LIMIT + 64:
        pytest.skip(f"this machine allows {hard} open files, too few to pass select's limit")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, SELECT_LIMIT + 64), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(SELECT_LIMIT)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def started_harness(tmp_path, seconds: int) -> tuple[HarnessBesideKernel, int]:
    """A harness as the grader sees it once its launcher has the fds, and the pipe end the "harness" holds."""
    for folder in ("in", "out"):
        (tmp_path / folder).mkdir()
    harness = HarnessBesideKernel(tmp_path / "in", tmp_path / "out", seconds=seconds, niceness=0)
    held_by_harness = os.dup(harness.pass_fds[2])
    harness.kernel_started()
    return harness, held_by_harness


def test_a_harness_that_ends_is_seen_to_end_with_its_pipe_past_selects_limit(tmp_path, many_open_fds):
    harness, held_by_harness = started_harness(tmp_path, seconds=60)
    assert harness._read_end >= SELECT_LIMIT, "the test must put the pipe past select's limit"
    threading.Timer(0.2, os.close, (held_by_harness,)).start()
    assert harness.wait() is True
    assert harness.wait() is True  # at once, the second time


def test_a_harness_that_never_ends_is_given_up_at_its_deadline(tmp_path, many_open_fds):
    harness, held_by_harness = started_harness(tmp_path, seconds=0)  # the deadline is its seconds plus 5
    try:
        assert harness.wait() is False
    finally:
        os.close(held_by_harness)


def _writes_until(write_end: int, stop: threading.Event) -> None:
    """A harness's student code writing into the pipe it holds, as fast as the pipe takes it."""
    os.set_blocking(write_end, False)
    while not stop.is_set():
        try:
            os.write(write_end, b"x" * 4096)
        except BlockingIOError:
            time.sleep(0)  # the pipe is full: at once again


def test_a_harness_writing_into_its_pipe_neither_ends_the_wait_nor_keeps_the_grader_busy(tmp_path):
    harness, held_by_harness = started_harness(tmp_path, seconds=0)  # the deadline is its seconds plus 5
    stop = threading.Event()
    writer = threading.Thread(target=_writes_until, args=(held_by_harness, stop))
    writer.start()
    try:
        grader_cpu = time.thread_time()
        assert harness.wait() is False
        grader_cpu = time.thread_time() - grader_cpu
    finally:
        stop.set()
        writer.join()
        os.close(held_by_harness)
    # reading what it writes would cost the grader seconds of this wait (2.2 CPU-s measured with a reading wait)
    assert grader_cpu < 1.0, f"the grader spent {grader_cpu:.2f} CPU-s on a harness's writes"


def test_a_harness_that_filled_its_pipe_and_ended_is_seen_to_end(tmp_path):
    harness, held_by_harness = started_harness(tmp_path, seconds=60)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    _writes_until(held_by_harness, stop)
    os.close(held_by_harness)
    assert harness.wait() is True

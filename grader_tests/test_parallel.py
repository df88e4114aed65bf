"""Grading a class at once: a real Dask scheduler and workers, a worker killed mid-run, Ctrl-C, and a PostgreSQL
gradebook shared by two graders. Every run is the real `course grade` in a throwaway course directory."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from nbgrader.api import Gradebook, MissingEntry

from conftest import ASSIGNMENT, assert_golden, gradebook_url, make_course, run_course, submit
from postgres import postgres_server

COURSE = [sys.executable, "-m", "course"]
TRAINING_FIXTURES = ("passes_all", "fails_conv_metrics_epochs_evaluate")


@contextmanager
def dask_cluster(folder: Path, workers: int):
    """`dask scheduler` and `dask worker` processes on loopback, each in a folder of its own (not the course)."""
    folder.mkdir()
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    processes = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                  cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        named = {}
        for index in range(workers):
            home = folder / f"worker{index}"
            home.mkdir()
            named[f"w{index}"] = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", f"w{index}", "--nthreads", "1",
                 "--no-nanny", "--memory-limit", "0", "--no-dashboard", "--local-directory", str(home)],
                cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            processes.append(named[f"w{index}"])
        yield address, named
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()


def read_lines_in_background(process: subprocess.Popen) -> list[str]:
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    return lines


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def gradebook_rows(course: Path, db_url: str | None = None) -> tuple[int, int]:
    """(submissions, grades) for the assignment: re-grading must add neither."""
    with Gradebook(gradebook_url(course, db_url), "mnist-cnn") as gradebook:
        submissions = gradebook.assignment_submissions(ASSIGNMENT)
        return len(submissions), sum(len(notebook.grades) for submission in submissions for notebook in submission.notebooks)


def test_dask_scheduler_grades_the_class_and_a_killed_worker_loses_no_grade(tmp_path):
    course = make_course(tmp_path / "course")
    fixtures = [*TRAINING_FIXTURES, "untouched_release"]
    for fixture in fixtures:
        submit(course, fixture)
    from distributed import Client

    with dask_cluster(tmp_path / "dask", workers=2) as (address, workers):
        grading = subprocess.Popen([*COURSE, "grade", ASSIGNMENT, "--scheduler", address], cwd=course, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
        lines = read_lines_in_background(grading)
        with Client(address) as client:
            def holder_of_passes_all():
                for worker, keys in client.processing().items():
                    if any("passes_all" in str(key) for key in keys):
                        return client.scheduler_info(n_workers=-1)["workers"][worker]["name"]
                return None

            wait_for(lambda: holder_of_passes_all() is not None, 240, "a worker to take passes_all")
            victim = holder_of_passes_all()

            def kernel_running():
                for child in psutil.Process(workers[victim].pid).children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        if "kernel_launcher" in " ".join(child.cmdline()):  # course.sandboxed.kernel_launcher
                            return True
                return False

            # mid-run on a machine of any speed: its kernel has started, and is still importing or training
            wait_for(kernel_running, 120, "the kernel of passes_all to start")
            time.sleep(3)
            assert holder_of_passes_all() == victim, "passes_all finished before the worker could be killed: kill sooner"
            workers[victim].kill()
        grading.wait(timeout=1200)
        time.sleep(0.5)
        output = "".join(lines)
        assert grading.returncode == 0, output
    assert "on the Dask cluster at" in output
    for fixture in fixtures:
        assert_golden(course, fixture, fixture)
    assert gradebook_rows(course) == (3, 60)

    again = run_course(course, "grade", ASSIGNMENT)
    assert "(3 unchanged since their last grading)" in again.stdout, again.stdout
    regrade = run_course(course, "grade", ASSIGNMENT, "--student", "untouched_release")
    assert "untouched_release: 0/21" in regrade.stdout
    for fixture in fixtures:
        assert_golden(course, fixture, fixture)
    assert gradebook_rows(course) == (3, 60), "re-grading added rows to the gradebook"


def test_ctrl_c_keeps_finished_grades_and_the_next_run_resumes(tmp_path):
    # The hanging submission is still running when Ctrl-C comes, whatever order the workers take the three in:
    # its cell waits out the course's 600 s timeout. (A training submission was racy: with Keras batching,
    # passes_all sometimes finished before the two quick ones.)
    course = make_course(tmp_path / "course")
    quick, in_progress = ["untouched_release", "kernel_dies_in_train_model"], "hangs_in_get_model"
    for fixture in [*quick, in_progress]:
        submit(course, fixture)
    # its own session, so that the SIGINT below reaches every process of the run, as Ctrl-C in a terminal does
    grading = subprocess.Popen([*COURSE, "grade", ASSIGNMENT, "--workers", "2"], cwd=course, text=True, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    lines = read_lines_in_background(grading)
    wait_for(lambda: all(any(line.startswith(f"{name}:") for line in lines) for name in quick), 300, "the two quick submissions")
    descendants = psutil.Process(grading.pid).children(recursive=True)
    os.killpg(grading.pid, signal.SIGINT)
    grading.wait(timeout=120)
    time.sleep(0.5)
    output = "".join(lines)
    assert grading.returncode == 130, output
    assert "Interrupted" in output and "run the same command again to resume" in output, output
    assert f"{in_progress}: not graded yet: the run was stopped" in output, output  # said, never scored
    assert "Traceback" not in output, output
    wait_for(lambda: not any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in descendants),
             30, "the run's workers and kernels to end")

    for fixture in quick:
        assert_golden(course, fixture, fixture)
    with Gradebook(gradebook_url(course), "mnist-cnn") as gradebook, pytest.raises(MissingEntry):
        gradebook.find_submission(ASSIGNMENT, in_progress)  # no half-made score
    assert not (course / "autograded" / in_progress / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()

    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Execute.timeout = 20\n")  # so that the resumed hang is cut in seconds, not 10 minutes
    resumed = run_course(course, "grade", ASSIGNMENT)
    assert "(2 unchanged since their last grading)" in resumed.stdout, resumed.stdout
    assert f"{in_progress}: " in resumed.stdout and "was still running after 20 s" in resumed.stdout.replace("\n", " "), resumed.stdout
    for fixture in [*quick, in_progress]:
        assert_golden(course, fixture, fixture)
    assert gradebook_rows(course) == (3, 60)


def test_postgresql_gradebook_shared_by_two_graders_at_once(tmp_path):
    with postgres_server() as db_url:
        course = make_course(tmp_path / "course", f"c.CourseDirectory.db_url = {db_url!r}")
        students = {"ada": "untouched_release", "grace": "kernel_dies_in_train_model", "alan": "untouched_release"}
        for student, fixture in students.items():
            submit(course, fixture, student)
        run_course(course, "grade", ASSIGNMENT, "--student", "ada")
        graders = [subprocess.Popen([*COURSE, "grade", ASSIGNMENT, "--student", student, "--workers", "1"], cwd=course,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for student in ("grace", "alan")]
        for grader in graders:
            output, _ = grader.communicate(timeout=600)
            assert grader.returncode == 0, output
        for student, fixture in students.items():
            assert_golden(course, student, fixture, db_url)
        run_course(course, "export", ASSIGNMENT, "-o", "grades.csv")
        with open(course / "grades.csv") as table:
            totals = {row["student"]: float(row["total"]) for row in csv.DictReader(table)}
        assert gradebook_rows(course, db_url) == (3, 60)
    assert totals == {"ada": 0.0, "alan": 0.0, "grace": 16.0}
    assert not (course / "gradebook.db").exists(), "the SQLite default was used instead of PostgreSQL"


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    course = make_course(tmp_path / "course")
    submit(course, "untouched_release")
    result = run_course(course, "grade", ASSIGNMENT, "--scheduler", "tcp://127.0.0.1:9", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Could not reach the Dask scheduler at tcp://127.0.0.1:9" in result.stdout


@pytest.mark.parametrize(("cores", "slots", "threads"), [(2, 1, 1), (2, 2, 1), (8, 1, 7), (8, 2, 3), (8, 8, 1), (1, 1, 1)])
def test_kernels_share_all_but_one_core(cores, slots, threads):
    from course.grading.worker import kernel_threads

    assert kernel_threads(cores, slots) == threads


def test_workers_read_an_uncompressed_copy_of_the_same_mnist(mnist_path, tmp_path, monkeypatch):
    import numpy as np

    from course.student.data import load_mnist
    from course.grading import worker

    monkeypatch.setattr(worker, "MNIST_CACHE", tmp_path / "cache")
    copy = Path(worker.uncompressed_mnist(str(mnist_path)))
    assert copy.parent == tmp_path / "cache" and copy.is_file()
    with np.load(copy) as archive:
        assert all(archive.zip.getinfo(f"{name}.npy").compress_type == 0 for name in archive.files)  # stored, not deflated
    for original, copied in zip(load_mnist(mnist_path), load_mnist(copy)):
        assert all(np.array_equal(a, b) for a, b in zip(original, copied))
    assert worker.uncompressed_mnist(str(copy)) == str(copy)  # already the copy: left as it is
    assert len(list(copy.parent.iterdir())) == 1

    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    assert worker.uncompressed_mnist(str(broken)) == str(broken)  # the kernels then name the bad file


def _sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def test_waiting_for_a_submission_polls_often_without_losing_its_result(dask_client, monkeypatch):
    """Polling `future.result(timeout=...)` this often on worker processes raised UnboundLocalError (dask/distributed#8514)."""
    from course.grading import cluster

    monkeypatch.setattr(cluster, "RESULT_POLL_S", 0.001)
    for seconds in (0.2, 0.3, 0.05):
        future = dask_client.submit(_sleep_then_return, seconds, pure=False)
        cluster.wait_watching(future, threading.Event(), "student")
        assert future.result() == seconds


def test_ctrl_c_while_waiting_cancels_the_submission(dask_client, monkeypatch):
    from course.grading import cluster

    monkeypatch.setattr(cluster, "RESULT_POLL_S", 0.01)
    stopping = threading.Event()
    future = dask_client.submit(_sleep_then_return, 3, pure=False)
    threading.Timer(0.3, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(cluster.GradingInterrupted):
        cluster.wait_watching(future, stopping, "student")
    assert time.monotonic() - started < 2
    assert future.cancelled()


def _background_work(dask_worker=None, dask_scheduler=None) -> dict:
    server = dask_worker or dask_scheduler
    memory_manager = getattr(dask_scheduler, "extensions", {}).get("amm")
    return {"callbacks": sorted(server.periodic_callbacks), "tick": server._tick_interval,
            "memory manager": bool(memory_manager and memory_manager.running)}


def test_local_grading_cluster_runs_without_dasks_background_sampling(tmp_path):
    """Stack sampling, 20 ms ticks and the memory manager cost a local worker and the coordinator half their CPU
    while a notebook runs (course.grading.cluster.QUIET_DASK); a worker must start without them, and so must the
    scheduler. Dask's defaults are the control: the same checks fail on a cluster made without QUIET_DASK."""
    from distributed import Client, LocalCluster

    from course.grading.cluster import GradingCluster

    grading = GradingCluster(1, None, tmp_path, tasks=1)
    grading.start()
    try:
        grading.open({}, None, 1)
        (worker,) = grading.client.run(_background_work).values()
        scheduler = grading.client.run_on_scheduler(_background_work)
    finally:
        grading.close()
    assert "profile" not in worker["callbacks"] and "profile-cycle" not in worker["callbacks"], worker
    assert worker["tick"] == scheduler["tick"] == 1.0
    assert scheduler["memory manager"] is False

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        (default,) = client.run(_background_work).values()
        default_scheduler = client.run_on_scheduler(_background_work)
    assert "profile" in default["callbacks"] and default["tick"] == 0.02 and default_scheduler["memory manager"] is True


def test_a_worker_checks_its_mnist_file_once_until_the_file_changes(mnist_path, tmp_path, monkeypatch):
    """Every submission checked MNIST whole again (all of it decompressed); now once per worker and file, and a
    file replaced since, or a bad one, is read again each time and named."""
    import shutil

    from course.grading import worker
    from course.grading.exceptions import WorkerNotReadyError
    from course.student import data
    from traitlets.config import Config

    reads = []
    real_load = data._load_npz
    monkeypatch.setattr(data, "_load_npz", lambda path, origin: reads.append(path) or real_load(path, origin))
    config = Config({"Sandbox": {"enabled": False}})
    copy = tmp_path / "mnist.npz"
    shutil.copy(mnist_path, copy)

    assert worker.check_ready(config, str(copy)) == str(copy)
    assert worker.check_ready(config, str(copy)) == str(copy)
    assert reads == [copy]

    os.utime(copy, ns=(time.time_ns(), time.time_ns() + 10**9))  # replaced: same name, another file
    assert worker.check_ready(config, str(copy)) == str(copy)
    assert reads == [copy, copy]

    monkeypatch.setenv("MNIST_PATH", str(copy))  # found the coordinator's way when it sent no path
    assert worker.check_ready(config, None) == str(copy)
    assert len(reads) == 3  # its origin is in the key: an error would name $MNIST_PATH

    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    for _ in range(2):
        with pytest.raises(WorkerNotReadyError, match="broken.npz"):
            worker.check_ready(config, str(broken))
    assert reads[-2:] == [broken, broken]

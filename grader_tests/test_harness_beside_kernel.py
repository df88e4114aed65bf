"""The harness is forked beside the student's kernel, in its sandbox, from one import of Keras
(course.sandboxed.kernel_launcher): real sandboxed kernels, a real harness, student code that looks for what it
must not reach."""

import json
import os
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from course.grading.kernel_run import ResilientExecute
from course.grading.sandbox import Sandbox, SandboxSettings
from course.grading.verification import HarnessBesideKernel
from course.sandboxed.kernel_launcher import ANSWERS_FILE, PLAN_FILE
from course.student.data import resolve_mnist_file

LITERAL = "course.sandboxed.inputs.literal"

# In the kernel: wait until the harness has saved its first result and is still running, then look for its
# folders (its plan of calls names the grader's inputs; its outputs are what the verifier checks) and its fds
# everywhere a kernel can see, and say what it found.
KERNEL_LOOKS_FOR_THE_HARNESS = """
import glob, json, os, sys, time
time.sleep(4)
arguments = open("/proc/self/cmdline").read().split("\\0")
fds = {name: int(arguments[arguments.index(name) + 1]) for name in ("--in-fd", "--out-fd", "--done-fd")}
def identity(fd):
    try:
        stat = os.fstat(fd)
        return [stat.st_dev, stat.st_ino]
    except OSError:
        return None
found = [path for name in ("results.json", "plan.json", "answers.ipynb")
         for path in glob.glob(f"/proc/*/fd/*/{name}") + glob.glob(f"/proc/*/cwd/{name}") + glob.glob(f"/tmp/**/{name}", recursive=True)]
print(json.dumps({"found": found, "fds": {name: identity(fd) for name, fd in fds.items()},
                  "harness_processes": [pid for pid in os.listdir("/proc") if pid.isdigit()
                                        and open(f"/proc/{pid}/comm").read().strip() == "course-harness"]}))
"""


def answers_notebook(*sources: str) -> nbformat.NotebookNode:
    cells = [new_code_cell(source, metadata={"nbgrader": {"grade_id": f"answer_{index}"}}) for index, source in enumerate(sources)]
    return new_notebook(cells=cells)


def run_with_harness(tmp_path, notebook_cells, answers, calls, seconds=60):
    """Execute ``notebook_cells`` in a sandboxed grading kernel with a harness running ``calls`` of ``answers``
    beside it; (the executor, the harness, its results, the harness folders' identities, seconds taken)."""
    config = Config()
    config.Execute.timeout = 120
    settings = SandboxSettings.from_config(Sandbox(config=config), str(resolve_mnist_file()))
    workdir, harness_in, harness_out = tmp_path / "work", tmp_path / "harness" / "in", tmp_path / "harness" / "out"
    for folder in (workdir, harness_in, harness_out):
        folder.mkdir(parents=True)
    nbformat.write(answers, harness_in / ANSWERS_FILE)
    (harness_in / PLAN_FILE).write_text(json.dumps({"setup_cells": [], "calls": calls}))
    harness = HarnessBesideKernel(harness_in, harness_out, seconds, 10)
    identities = {name: [os.fstat(fd).st_dev, os.fstat(fd).st_ino]
                  for name, fd in zip(("--in-fd", "--out-fd", "--done-fd"), harness.pass_fds)}
    executor = ResilientExecute(settings, {"TF_NUM_INTRAOP_THREADS": "1"}, config=config)
    executor.harness = harness
    started = time.monotonic()
    nb = new_notebook(cells=[new_code_cell(source) for source in notebook_cells])
    try:
        executor.preprocess(nb, {"metadata": {"path": str(workdir)}})
    finally:
        settings.cleanup()
    took = time.monotonic() - started
    results_file = harness_out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return executor, nb, harness, results, identities, took


def call(function, *values):
    return {"function": function, "inputs": [{"factory": LITERAL, "options": {"value": value}} for value in values], "keep": "returned"}


@pytest.mark.slow
def test_the_kernel_reaches_neither_the_harness_folders_nor_its_fds(tmp_path):
    answers = answers_notebook("def double(x):\n    return 2 * x", "def slow(x):\n    import time\n    time.sleep(10)\n    return x")
    executor, nb, harness, results, identities, _ = run_with_harness(
        tmp_path, [KERNEL_LOOKS_FOR_THE_HARNESS], answers, [call("double", 21), call("slow", 5)])
    seen = json.loads("".join(output.get("text", "") for output in nb.cells[0].outputs if output.get("name") == "stdout"))
    assert seen["harness_processes"], "the harness was not running beside the kernel when it looked"
    assert seen["found"] == [], f"the kernel reached the harness's outputs: {seen['found']}"
    for name, identity in seen["fds"].items():
        assert identity != identities[name], f"the kernel holds the harness's {name}"
    assert harness.wait() is True
    assert results["double"] == {"type": "numbers", "values": [42.0], "container": None}
    assert results["slow"] == {"type": "numbers", "values": [5.0], "container": None}


@pytest.mark.slow
def test_a_kernel_that_dies_leaves_its_harness_to_finish(tmp_path):
    answers = answers_notebook("def slow(x):\n    import time\n    time.sleep(6)\n    return x + 1")
    executor, _, harness, results, _, _ = run_with_harness(tmp_path, ["import os\nos._exit(1)"], answers, [call("slow", 6)])
    assert executor.stopped_because and "died" in executor.stopped_because
    assert harness.wait() is True
    assert results["slow"]["values"] == [7.0], "the harness was killed with its kernel"


@pytest.mark.slow
def test_a_harness_past_its_time_is_killed_and_grading_goes_on(tmp_path):
    forever = "def forever(x):\n    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass"
    executor, nb, harness, results, _, took = run_with_harness(
        tmp_path, ["print('notebook done')"], answers_notebook("def quick(x):\n    return x", forever),
        [call("quick", 1), call("forever", 1)], seconds=6)
    assert "notebook done" in nb.cells[0].outputs[0]["text"]
    assert harness.wait() is True  # killed by its launcher at its time, not left for the grader's deadline
    assert results == {"quick": {"type": "numbers", "values": [1.0], "container": None}}
    assert took < 60, f"grading waited {took:.0f} s for a harness with 6 s"

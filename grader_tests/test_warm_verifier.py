"""A verifier kept warm on a grading worker (course.grading.warm_verifier): each notebook gets a fresh child of it,
the same record a fresh verifier gives, and a verifier that stops, hangs or answers out of turn is never used again.

The inputs here are what a harness leaves when the student's functions raise and the notebook saves no model: the
verifier reads them in a second, with no training, and its verdicts name each failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from traitlets.config import Config

from course.grading.sandbox import Sandbox, SandboxSettings
from course.grading.verify import verify_told
from course.grading.warm_verifier import WarmVerifiers
from course.spec import load
from course.student.data import resolve_mnist_file

ASSIGNMENT = "mnist_cnn"


@pytest.fixture
def verifiers():
    pool = WarmVerifiers()
    yield pool
    pool.teardown()


def settings() -> SandboxSettings:
    return SandboxSettings.from_config(Sandbox(config=Config()), str(resolve_mnist_file()))


def leave_inputs(folder: Path, reason: str) -> None:
    """What the harness keeps when every call of the student's functions raised ``reason``."""
    (folder / "harness").mkdir(parents=True)
    calls = [call.function for call in load(ASSIGNMENT).calls]
    (folder / "harness" / "results.json").write_text(json.dumps({function: {"error": reason} for function in calls}))


def tell_all(job) -> None:
    job.say("harness ended\n")
    for artifact in load(ASSIGNMENT).artifacts:
        job.say(json.dumps({"artifact": artifact.name, "errors before": True}) + "\n")


def test_each_notebook_gets_the_record_a_fresh_verifier_gives_and_only_its_own(verifiers, tmp_path):
    verifier = verifiers.take(settings(), {}, 0)
    records = []
    for reason in ("ValueError: first student", "KeyError: second student"):
        job = verifier.job(ASSIGNMENT, timeout=120)
        leave_inputs(job.inputs, reason)
        tell_all(job)
        status, output = job.wait()
        assert status == 0
        records.append(json.loads(output))
        fresh_inputs = tmp_path / reason.split(":")[0]
        leave_inputs(fresh_inputs, reason)
        lines = iter(["harness ended\n"] + [json.dumps({"errors before": True}) + "\n"] * 5)
        assert records[-1] == verify_told(ASSIGNMENT, fresh_inputs, lambda: next(lines))
        job.close()
    first, second = records
    assert all("first student" in verdict["message"] for verdict in first["verdicts"].values() if "function" in verdict)
    assert not any("first student" in verdict["message"] for verdict in second["verdicts"].values())
    assert first["verdicts"]["test_evaluate_accuracy"]["passed"] is False
    verifiers.give_back(verifier)
    assert verifiers.take(settings(), {}, 0) is verifier  # warm: the same process serves the next notebook


def test_a_verifier_that_runs_out_of_time_is_killed_and_never_used_again(verifiers):
    verifier = verifiers.take(settings(), {}, 0)
    job = verifier.job(ASSIGNMENT, timeout=3)
    leave_inputs(job.inputs, "ValueError: never told")
    # the lines never come: the child waits, the job runs out of time
    assert job.wait() == (None, b"")
    job.close()
    verifiers.give_back(verifier)
    assert verifier.process.poll() is not None
    assert verifiers.take(settings(), {}, 0) is not verifier


def test_a_verifier_told_something_that_is_not_a_job_says_so_and_keeps_serving(verifiers):
    verifier = verifiers.take(settings(), {}, 0)
    verifier.say(json.dumps({"job": "../../etc", "assignment": ASSIGNMENT}) + "\n")
    answer = verifier.lines.get(timeout=60)
    assert b"not a job" in answer
    job = verifier.job(ASSIGNMENT, timeout=120)
    leave_inputs(job.inputs, "ValueError: after a bad request")
    tell_all(job)
    status, output = job.wait()
    assert status == 0 and "after a bad request" in output.decode()

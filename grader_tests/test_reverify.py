"""`course grade --reverify`: new verdicts from the runs grading stored, with no notebook run again; a run that
cannot stand for a new one (damaged, of another submission, of other cells) is run again, and the output says why."""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook
import nbformat

from conftest import ASSIGNMENT, ROOT, make_course, run_course, submit
from concurrent.futures import Future

from course.grading import evidence
from course.grading.reverify import Reverification
from course.grading.verify import verify_batch
from course.spec import load
from course.student_ids import id_problem

SPEC_FILE = ROOT / "course" / "assignments" / ASSIGNMENT / "__init__.py"
THRESHOLD_LINE = "MIN_TEST_ACCURACY = Threshold(\n    0.97,"


# --- the stored run, without grading -------------------------------------------------------------------------

def _notebook(*sources: str) -> str:
    return nbformat.writes(new_notebook(cells=[new_code_cell(source) for source in sources]))


def test_the_run_key_ignores_cell_ids_and_sees_every_change_of_what_runs():
    plan, exports = {"calls": [{"function": "f"}]}, {"cell": {"name": "trained"}}
    key = evidence.run_key(_notebook("a = 1", "b = 2"), _notebook("a = 1"), plan, exports)
    assert evidence.run_key(_notebook("a = 1", "b = 2"), _notebook("a = 1"), plan, exports) == key  # new cell ids
    assert evidence.run_key(_notebook("a = 1", "b = 3"), _notebook("a = 1"), plan, exports) != key
    assert evidence.run_key(_notebook("a = 1", "b = 2"), _notebook("a = 2"), plan, exports) != key
    assert evidence.run_key(_notebook("a = 1", "b = 2"), _notebook("a = 1"), {"calls": []}, exports) != key
    assert evidence.run_key(_notebook("a = 1", "b = 2"), _notebook("a = 1"), plan, {}) != key


def _stored(tmp_path: Path) -> Path:
    inputs = tmp_path / "verifier_in"
    (inputs / "harness").mkdir(parents=True)
    (inputs / "harness" / "results.json").write_text("{}")
    (inputs / "artifacts" / "trained").mkdir(parents=True)
    (inputs / "artifacts" / "trained" / "model.keras").write_bytes(b"weights" * 100)
    path = evidence.path_for(tmp_path / "course", ASSIGNMENT, "alice", f"{ASSIGNMENT}.ipynb")
    evidence.store(path, evidence.pack_inputs(inputs, {"trained": True}), _notebook("x = 1"),
                   {"key": "k", "submission": "d", "stopped": None})
    return path


def _rewritten(path: Path, change) -> None:
    """The zip at ``path`` with each entry passed through ``change(name, data)`` (None drops it)."""
    with zipfile.ZipFile(path) as archive:
        entries = [(entry.filename, archive.read(entry)) for entry in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            changed = change(name, data)
            if changed is not None:
                archive.writestr(changed[0], changed[1])
    path.write_bytes(buffer.getvalue())


def test_a_stored_run_reads_back_whole(tmp_path):
    stored = evidence.read(_stored(tmp_path))
    assert stored.run["key"] == "k" and stored.run["submission"] == "d"
    assert stored.errors_before == {"trained": True}
    assert nbformat.reads(stored.executed_notebook, as_version=4).cells[0].source == "x = 1"
    stored.extract_inputs(tmp_path / "out")
    assert (tmp_path / "out" / "artifacts" / "trained" / "model.keras").read_bytes() == b"weights" * 100


@pytest.mark.parametrize("damage, said", [
    (lambda name, data: None if name.endswith("model.keras") else (name, data), "model.keras missing"),
    (lambda name, data: (name, b"other weights") if name.endswith("model.keras") else (name, data), "changed since it was stored"),
    (lambda name, data: None if name == evidence.RUN_FILE else (name, data), "cannot be read"),
    (lambda name, data: ("verifier/../../escape" if name.endswith("results.json") else name, data), "which no grader writes"),
    (lambda name, data: (name, b"{}") if name == evidence.EXECUTED_NOTEBOOK else (name, data), "changed since it was stored"),
])
def test_a_damaged_stored_run_is_refused_naming_it_and_why(tmp_path, damage, said):
    path = _stored(tmp_path)
    _rewritten(path, damage)
    with pytest.raises(evidence.EvidenceProblem, match=said) as problem:
        evidence.read(path).extract_inputs(tmp_path / "extracted")  # the inputs are checked as they are extracted
    assert str(path) in str(problem.value)


def test_a_truncated_or_missing_stored_run_is_refused(tmp_path):
    path = _stored(tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(evidence.EvidenceProblem, match="cannot be read"):
        evidence.read(path)
    with pytest.raises(evidence.EvidenceProblem, match="no stored run"):
        evidence.read(tmp_path / "nothing.zip")


def test_a_stored_run_of_another_submission_is_not_reverified(tmp_path):
    path = _stored(tmp_path)
    course = tmp_path / "course"
    reverification = Reverification(course, ASSIGNMENT, None, None, 1, {"alice": "a changed submission"}, threading.Event())
    try:
        assert not reverification._read(("alice", f"{ASSIGNMENT}.ipynb"), tmp_path / "inbox")
        assert reverification.reasons[("alice", f"{ASSIGNMENT}.ipynb")] == "the submission changed since it was graded"
    finally:
        reverification.close()
    assert path.is_file()  # nothing of it was removed: the full grade that follows replaces it


def test_stored_runs_live_where_no_student_id_and_no_sandbox_reaches():
    """Principle: the folder of stored runs is the coordinator's. It is under autograded/, which no sandbox binds
    (test_trust_boundary.py: the sandbox sees no course tree), named so that it can be no student's folder."""
    path = evidence.path_for(Path("/course"), ASSIGNMENT, "alice", f"{ASSIGNMENT}.ipynb")
    assert path.parts[:4] == ("/", "course", "autograded", evidence.EVIDENCE_DIR)
    assert id_problem(evidence.EVIDENCE_DIR) is not None


def test_packing_never_fails_a_grade_and_keeps_nothing_it_cannot_keep_whole(tmp_path):
    inputs = tmp_path / "verifier_in" / "harness"
    inputs.mkdir(parents=True)
    (inputs / "results.json").write_text("{}")
    assert evidence.pack_inputs(inputs.parent, {})  # the honest tree is kept
    odd_name = os.fsencode(str(inputs)) + b"/\xff\xfe.npz"  # a name student code can make, no zip can hold
    with open(odd_name, "wb") as odd:
        odd.write(b"x")
    assert evidence.pack_inputs(inputs.parent, {}) == b""
    os.remove(odd_name)
    for index in range(evidence.MAX_ENTRIES):
        (inputs / f"file{index}").write_bytes(b"x")
    assert evidence.pack_inputs(inputs.parent, {}) == b""


def test_the_run_context_changes_with_the_kernel_and_sandbox_settings():
    base = {"Execute": {"timeout": 600}, "Sandbox": {"memory_bytes": 4}}
    assert evidence.grading_context(base) == evidence.grading_context(json.loads(json.dumps(base)))
    assert evidence.grading_context({**base, "Execute": {"timeout": 1200}}) != evidence.grading_context(base)
    assert evidence.grading_context({**base, "Verification": {"harness_timeout": 900}}) != evidence.grading_context(base)


def _reverification_with(tmp_path, record: dict) -> tuple[Reverification, tuple[str, str]]:
    item = ("alice", f"{ASSIGNMENT}.ipynb")
    reverification = Reverification(tmp_path, ASSIGNMENT, None, None, 1, {"alice": "d"}, threading.Event())
    stored = evidence.read(_stored(tmp_path))
    done = Future()
    done.set_result({"job00000": record})
    reverification._stored[item], reverification._job[item], reverification._futures[item] = stored, "job00000", done
    return reverification, item


def test_a_stored_run_the_verifier_could_not_verify_is_run_again_not_credited(tmp_path):
    reverification, item = _reverification_with(tmp_path, {"verdicts": {}, "error": "FileNotFoundError: mnist.npz"})
    try:
        assert reverification.outcome(*item, "k", "job") is None
        assert reverification.how["alice"].startswith("run again: its stored run could not be verified (FileNotFoundError")
    finally:
        reverification.close()
    honest, item = _reverification_with(tmp_path / "honest", {"verdicts": {"test_scale_pair": {"passed": True}}})
    try:
        outcome = honest.outcome(*item, "k", "job")
        assert outcome.record["verdicts"] == {"test_scale_pair": {"passed": True}} and outcome.worker == "re-verified"
        assert honest.outcome(*item, "another key", "job") is None  # a run of other cells does not stand
    finally:
        honest.close()


def test_the_batch_verifier_answers_each_job_as_it_goes_and_one_broken_job_stops_no_other(tmp_path, mnist_path):
    inbox = tmp_path / "in"
    (inbox / "job00000" / "harness").mkdir(parents=True)
    (inbox / "job00000" / "harness" / "results.json").write_text("{not json")
    (inbox / "jobs.json").write_text(json.dumps({"job00000": {}, "job00001": {"errors_before": "not a mapping"}}))
    out = io.StringIO()
    verify_batch(load(ASSIGNMENT), inbox, out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [answer["job"] for answer in answers] == ["job00000", "job00001"]
    assert answers[0]["record"]["verdicts"] and not answers[0]["record"].get("error")  # every test answered, failed
    assert not any(verdict["passed"] for verdict in answers[0]["record"]["verdicts"].values())
    assert "error" in answers[1]["record"]


# --- a class graded, its threshold changed, reverified ----------------------------------------------------------

@contextmanager
def threshold_changed_to(value: str):
    """The instructor's edit of the spec, undone afterwards whatever happens."""
    original = SPEC_FILE.read_text()
    assert THRESHOLD_LINE in original, f"{SPEC_FILE} no longer sets MIN_TEST_ACCURACY as this test expects"
    SPEC_FILE.write_text(original.replace(THRESHOLD_LINE, f"MIN_TEST_ACCURACY = Threshold(\n    {value},"))
    try:
        yield
    finally:
        SPEC_FILE.write_text(original)


def _scores(output: str) -> dict[str, str]:
    return {line.split(":")[0]: line for line in output.splitlines() if line.startswith(("alice:", "bob:"))}


def _executions(course: Path, student: str) -> list[dict]:
    return json.loads((course / "autograded" / student / ASSIGNMENT / ".course-graded.json").read_text())["executions"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("reverify") / "course")
    submit(course, "passes_all", "alice")
    submit(course, "fails_weak_model", "bob")
    run_course(course, "grade", ASSIGNMENT, "--workers", "2")
    return course


def test_a_changed_threshold_is_applied_to_every_student_without_running_a_notebook(graded):
    with threshold_changed_to("0.9999"):
        result = run_course(graded, "grade", ASSIGNMENT, "--reverify", "--workers", "2")
    lines = _scores(result.stdout)
    assert lines["alice"].startswith("alice: 19/21") and "test_evaluate_accuracy" in lines["alice"], lines["alice"]
    assert lines["bob"].startswith("bob: 17/21"), lines["bob"]
    for student in ("alice", "bob"):
        assert "re-verified from its stored run, not run again" in lines[student]
        assert [execution["worker"] for execution in _executions(graded, student)] == ["re-verified"]
    verification = json.loads((graded / "autograded" / "alice" / ASSIGNMENT / "verification.json").read_text())
    assert "it needs 100%" in verification["verdicts"]["test_evaluate_accuracy"]["message"]


def test_a_damaged_stored_run_is_run_again_and_says_why_and_the_others_are_reverified(graded):
    stored = evidence.path_for(graded, ASSIGNMENT, "bob", f"{ASSIGNMENT}.ipynb")
    _rewritten(stored, lambda name, data: None if name.endswith("trained/model.keras") else (name, data))
    result = run_course(graded, "grade", ASSIGNMENT, "--reverify", "--workers", "2")
    lines = _scores(result.stdout)
    assert lines["alice"].startswith("alice: 21/21") and "re-verified" in lines["alice"], lines["alice"]
    assert lines["bob"].startswith("bob: 17/21"), lines["bob"]
    assert "run again:" in lines["bob"] and "model.keras missing" in lines["bob"], lines["bob"]
    assert _executions(graded, "bob")[0]["worker"] != "re-verified"
    evidence.read(stored)  # the full grade stored a whole run again


def test_stored_predictions_stand_only_for_the_model_file_they_were_made_from(tmp_path):
    import numpy as np

    from course.grading.verify import GraderPredictions

    made_from, other = tmp_path / "made_from.keras", tmp_path / "other.keras"
    made_from.write_bytes(b"the trained model")
    other.write_bytes(b"another model")
    first = GraderPredictions()
    honest = first.get_or_make(made_from, "test", 1024, lambda: np.full((3, 10), 0.1, dtype=np.float32))
    # a regrade gets them back packed, as the stored run keeps them
    again = GraderPredictions.unpacked(first.packed())
    made = []
    assert np.array_equal(again.get_or_make(made_from, "test", 1024, lambda: made.append(1)), honest) and not made
    # another model file, another array or another batch size: made again, never taken from the store
    for model_file, name, batch_size in ((other, "test", 1024), (made_from, "train sample", 1024), (made_from, "test", 32)):
        assert again.get_or_make(model_file, name, batch_size, lambda: "made again") == "made again"
    assert GraderPredictions.unpacked(b"not an npz").stored == {}


@pytest.mark.parametrize(("status", "said", "kept"), [
    (0, {"verdicts": {}, evidence.PREDICTIONS_FIELD: "eHl6"}, b"xyz"),  # base64 of b"xyz"
    (0, {"verdicts": {}, evidence.PREDICTIONS_FIELD: "not base64!"}, b""),
    (0, "not json", b""),
    (None, "", b""),  # timed out
])
def test_a_notebooks_verifier_inputs_are_packed_once_with_its_predictions(tmp_path, monkeypatch, status, said, kept):
    """Packing compresses about 12 MB: a perfect notebook's was packed twice, once without its predictions."""
    from types import SimpleNamespace

    from course.grading import verification

    packed = []
    monkeypatch.setattr(verification, "pack_inputs", lambda folder, errors, predictions=b"": packed.append(predictions) or b"zip")
    outside = object.__new__(verification.OutsideVerification)
    outside._saved, outside._teller, outside._warm = {}, threading.Thread(target=lambda: None), None
    outside._teller.start()
    outside.verifier_in, outside.root, outside._errors_before, outside.skipped = tmp_path, tmp_path / "gone", {}, []
    outside.verifier = SimpleNamespace(wait=lambda: (status, said if isinstance(said, str) else json.dumps(said)), timeout=5)
    outside.harness = SimpleNamespace(kernel_started=lambda: None)  # the harness beside the kernel: none here

    record = outside.record()
    assert packed == [kept] and outside.evidence == b"zip"
    assert evidence.PREDICTIONS_FIELD not in record
    assert ("error" in record) == (not isinstance(said, dict))

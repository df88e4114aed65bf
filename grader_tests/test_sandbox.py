"""Student code that tries to escape gains nothing and hurts no one: real sandboxed kernels, real attempts."""

import csv
import json
import socket
import threading

import nbformat
import pytest

from conftest import ASSIGNMENT, EXPECTED, assert_golden, cell_scores, make_course, run_course, submit

TAMPERING = [
    "tamper_reads_solutions",
    "tamper_writes_gradebook_and_others",
    "tamper_opens_socket",
    "tamper_hogs_memory",
    "tamper_forks_processes",
    "tamper_floods_output",
    "tamper_fills_disk",
    "tamper_blanks_tests_and_fakes_evaluate",
    "tamper_monkeypatches_checks",
    "tamper_forges_harness_outputs",
]
TEST_CONFIG = """
c.Execute.timeout = 60
c.Sandbox.file_bytes = 64 * 2**20
c.Sandbox.memory_bytes = 3 * 2**30
c.ResilientExecute.max_output_bytes = 1_000_000
"""


class Listener(threading.Thread):
    """A TCP server on the grader's loopback that records anything a kernel sends it."""

    def __init__(self):
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.received = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                self.received.append(connection.recv(1024))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path, monkeypatch_module):
    course = make_course(tmp_path_factory.mktemp("sandbox"), TEST_CONFIG)
    for fixture in TAMPERING + ["untouched_release"]:
        submit(course, fixture)
    listener = Listener()
    listener.start()
    monkeypatch_module.setenv("TAMPER_PORT", str(listener.port))
    result = run_course(course, "grade", ASSIGNMENT)
    listener.stopped.set()
    return course, result, listener


@pytest.fixture(scope="module")
def monkeypatch_module():
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()


def cell_outputs(course, student, grade_id):
    notebook = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cell = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(output.get("text", "") + output.get("evalue", "") for output in cell.outputs)


@pytest.mark.parametrize("fixture", TAMPERING)
def test_tampering_gains_nothing(graded, fixture):
    course, _, _ = graded
    assert_golden(course, fixture, fixture)


def test_the_batch_completes(graded):
    _, result, _ = graded
    assert result.returncode == 0
    assert f"Graded {len(TAMPERING) + 1} of {len(TAMPERING) + 1} submission(s)" in result.stdout


def test_solutions_are_out_of_sight(graded):
    course, _, _ = graded
    assert "No such file or directory" in cell_outputs(course, "tamper_reads_solutions", "scale_mnist_data")


def test_gradebook_and_other_submissions_are_out_of_reach(graded):
    course, _, _ = graded
    output = cell_outputs(course, "tamper_writes_gradebook_and_others", "scale_mnist_data")
    assert "TAMPERED" not in output and output.count("blocked:") == 3
    # nobody's grade moved: the untouched release still has 0 and no manual score crept in
    assert sum(cell_scores(course, "untouched_release").values()) == 0
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        for student in gradebook.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    assert all(grade.manual_score is None for grade in notebook.grades)
    assert nbformat.read(course / "submitted" / "untouched_release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells


def test_no_network(graded):
    course, _, listener = graded
    output = cell_outputs(course, "tamper_opens_socket", "scale_mnist_data")
    assert "TAMPERED" not in output and output.count("blocked:") == 2
    assert listener.received == []


def test_memory_is_capped(graded):
    course, _, _ = graded
    assert "blocked: memory capped" in cell_outputs(course, "tamper_hogs_memory", "scale_mnist_data")


def test_processes_are_capped(graded):
    course, _, _ = graded
    output = cell_outputs(course, "tamper_forks_processes", "scale_mnist_data")
    count = int(output.split("blocked after ")[1].split()[0])
    assert count < 512


def test_output_is_capped(graded):
    course, _, _ = graded
    output = cell_outputs(course, "tamper_floods_output", "scale_mnist_data")
    assert len(output) < 1_100_000 and "output beyond 1,000,000 bytes in a cell was dropped" in output


def test_harness_outputs_are_out_of_reach(graded):
    course, _, _ = graded
    output = cell_outputs(course, "tamper_forges_harness_outputs", "scale_mnist_data")
    assert "nothing to forge" in output and "forged:" not in output


def test_disk_is_capped(graded):
    course, _, _ = graded
    assert "File too large" in cell_outputs(course, "tamper_fills_disk", "scale_mnist_data")
    # what a kernel writes stays in its worker's private folder, removed after the job: none of it reaches the course
    assert not (course / "autograded" / "tamper_fills_disk" / ASSIGNMENT / "filler.bin").exists()


def test_blanked_tests_and_faked_results_are_caught_outside_the_kernel(graded):
    """Hidden tests never run in the kernel, so blanking them changes nothing: every lost point is the verifier's."""
    course, _, _ = graded
    student = "tamper_blanks_tests_and_fakes_evaluate"
    for cell in EXPECTED[student]["zero"]:
        assert "Checked outside your notebook" in cell_outputs(course, student, cell), cell
    assert "Conv2D has 16 filters" in cell_outputs(course, student, "test_model_conv")
    run_course(course, "export", ASSIGNMENT, "-o", "grades.csv")
    with open(course / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["untouched_release"]["flags"] == ""


def test_monkeypatched_checks_and_faked_results_gain_nothing(graded):
    course, _, _ = graded
    student = "tamper_monkeypatches_checks"
    for cell in EXPECTED[student]["zero"]:
        assert "Checked outside your notebook" in cell_outputs(course, student, cell), cell
    verification = json.loads((course / "autograded" / student / ASSIGNMENT / "verification.json").read_text())
    assert all(not item["trusted"] for item in verification["disagreements"])  # the outside never gave a point away


def test_class_report_shows_what_the_class_missed_and_who_was_flagged(graded):
    course, _, _ = graded
    result = run_course(course, "report", ASSIGNMENT)
    png, page = course / "reports" / f"{ASSIGNMENT}.png", course / "reports" / f"{ASSIGNMENT}.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    html = page.read_text()
    run_course(course, "export", ASSIGNMENT, "-o", "grades.csv")
    with open(course / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    for student in TAMPERING:
        assert (f"flagged {student}" in result.stdout) == bool(rows[student]["flags"]), student
    students = [path.name for path in (course / "submitted").iterdir()]
    failing_conv = sum(cell_scores(course, student)["test_model_conv"] == 0 for student in students)
    assert f"<tr><td>test_model_conv</td><td>{failing_conv / len(students):.0%}</td></tr>" in html

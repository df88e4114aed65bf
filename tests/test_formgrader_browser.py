"""The instructor's flow, in a real browser: `course review` names a flagged student and their formgrader page;
in nbgrader's formgrader (JupyterLab on loopback, Debian's Chromium driven by Playwright) the instructor types a
manual score on the flagged cell; then `course review` shows it as decided and `course export --format canvas`
carries that score. Saves a screenshot to build/test-artifacts/formgrader_manual_score.png.

The course is written as `course grade` leaves it, without running a notebook: nbgrader registers the assignment
(generate_assignment), the gradebook gets the student's autograde, and autograded/<student>/mnist_cnn/ gets the
notebook and the verification.json record that flags the cell where the kernel and the verifier disagreed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import ROOT
from course.coursedir import nbgrader_api
from test_lms_export import ASSIGNMENT, DUE, LATE_POLICY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "build" / "test-artifacts"
TOKEN = "course-formgrader-test"
STUDENT, FLAGGED_CELL = "s042", "test_model_conv"
ROSTER = "lms_id,student_id,name,canvas_id,sis_user_id,sis_login_id,section\n1042,s042,\"Flagged, Fran\",1042,A042,fran,Section 1\n"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def course_env() -> dict:
    return {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""), "COLUMNS": "250"}


def run_course(course: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "course", *args], cwd=course, capture_output=True, text=True, env=course_env())
    assert result.returncode == 0, f"course {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def flagged_course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("formgrader") / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        "import os\nc = get_config()\nc.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
        'c.CourseDirectory.course_id = "mnist-cnn"\n' + LATE_POLICY)
    shutil.copytree(ROOT / "source", course / "source")
    os.environ["PATH"] = course_env()["PATH"]  # nbgrader's Gradebook runs this environment's alembic
    result = nbgrader_api(course).generate_assignment(ASSIGNMENT, force=True, create=True)
    assert result["success"], result["log"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
        gradebook.add_student(STUDENT, first_name="Fran", last_name="Flagged")
        submission = gradebook.add_submission(ASSIGNMENT, STUDENT, timestamp=DUE.replace(hour=12))
        for grade in submission.notebooks[0].grades:  # every test passed but the flagged one, which the verifier failed
            grade.auto_score = 0 if grade.name == FLAGGED_CELL else grade.max_score
            grade.needs_manual_grade = False
        gradebook.db.commit()
    folder = course / "autograded" / STUDENT / ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", folder)
    (folder / "verification.json").write_text(json.dumps({
        "verdicts": {FLAGGED_CELL: {"passed": False, "message": "Conv2D has 16 filters; the spec asks for 8."}},
        "disagreements": [{"cell": FLAGGED_CELL, "kernel": True, "trusted": False, "message": "Conv2D has 16 filters"}],
        "flags": [{"cell": FLAGGED_CELL, "reason": "passed in the kernel, failed outside it"}],
        "could_not_verify": None, "stopped": None, "sandboxed": True, "skipped_files": []}))
    (course / "submitted" / STUDENT / ASSIGNMENT).mkdir(parents=True)
    (course / "roster.csv").write_text(ROSTER)
    return course


@pytest.fixture(scope="module")
def formgrader(flagged_course, tmp_path_factory):
    """JupyterLab with nbgrader's formgrader, started in the course directory as an instructor does."""
    port = free_port()
    config_dir = tmp_path_factory.mktemp("jupyter-config")
    log = open(tmp_path_factory.mktemp("logs") / "formgrader.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={flagged_course}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root"],
        cwd=flagged_course, stdout=log, stderr=subprocess.STDOUT, env={**course_env(), "JUPYTER_CONFIG_DIR": str(config_dir)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"jupyter lab did not start; see {log.name}")
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


def manual_score(course: Path) -> float | None:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        return gradebook.find_grade(FLAGGED_CELL, ASSIGNMENT, ASSIGNMENT, STUDENT).manual_score


def test_instructor_overrides_a_flagged_cell_in_formgrader_and_exports_it(flagged_course, formgrader, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    course = flagged_course
    listed = run_course(course, "review", ASSIGNMENT)
    assert "1 student(s) need a human" in listed and f"flagged: {FLAGGED_CELL}: passed in the kernel, failed outside it" in listed
    page_path = next(line.split("formgrader: ", 1)[1].strip() for line in listed.splitlines() if "formgrader: /formgrader/" in line)
    record = (course / "autograded" / STUDENT / ASSIGNMENT / "verification.json").read_text()
    assert manual_score(course) is None

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user_data = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(user_data), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1400, "height": 1000}
        )
        page = browser.new_page()
        try:
            page.goto(f"{formgrader}/formgrader?token={TOKEN}")  # log in, as opening Formgrader from JupyterLab does
            page.goto(f"{formgrader}{page_path}")
            score = page.locator(f"input.score#{FLAGGED_CELL}")
            expect(score).to_be_visible(timeout=60_000)
            expect(score).to_have_attribute("placeholder", "0", timeout=30_000)  # formgrader shows the autograde
            score.scroll_into_view_if_needed()
            score.fill("1")
            score.press("Enter")  # formgrader saves on change
            page.locator("body").click(position={"x": 5, "y": 300})
            deadline = time.monotonic() + 30
            while manual_score(course) is None and time.monotonic() < deadline:
                time.sleep(0.5)
            expect(score).to_have_value("1")
            score.scroll_into_view_if_needed()
        finally:
            page.screenshot(path=str(ARTIFACTS / "formgrader_manual_score.png"), full_page=False)
            browser.close()
    shutil.rmtree(user_data, ignore_errors=True)
    assert (ARTIFACTS / "formgrader_manual_score.png").stat().st_size > 10_000
    assert manual_score(course) == 1

    decided = run_course(course, "review", ASSIGNMENT)
    assert "0 student(s) need a human" in decided and "Decided (1)" in decided
    assert f"{STUDENT}: {FLAGGED_CELL} 1 (autograde 0)" in decided
    out = run_course(course, "export", ASSIGNMENT, "--format", "canvas", "--roster", "roster.csv",
                     "--lms-assignment", "MNIST CNN (4242)", "-o", "canvas.csv")
    assert f"{STUDENT}: manual score: {FLAGGED_CELL} 1 (autograde 0)" in out
    rows = list(csv.reader(open(course / "canvas.csv", newline="", encoding="utf-8")))
    assert rows[0][-1] == "MNIST CNN (4242)" and rows[1][-1] == "21"
    assert rows[2] == ["Flagged, Fran", "1042", "A042", "fran", "Section 1", "21"]  # 20 autograded + 1 given by hand
    assert (course / "autograded" / STUDENT / ASSIGNMENT / "verification.json").read_text() == record  # the flag stays on record

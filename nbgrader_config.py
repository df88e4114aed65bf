"""nbgrader configuration for this course (the repository root is the course directory)."""

import os

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "mnist-cnn"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- autograding -------------------------------------------------------------------------------
# Pipeline = nbgrader 0.9.6's default, with its Execute step replaced by ExecuteOnWorker: the notebook runs in a
# sandboxed kernel on a grading worker, and every test cell is judged outside the kernel (README: "Grading
# untrusted code"). This is the pipeline that runs: `course grade` only hands ExecuteOnWorker its workers.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
)

from course.grading.preprocessors import (  # noqa: E402
    CheckCellMetadataOnce,
    ClearHiddenTestCells,
    ExecuteOnWorker,
    FailedTestsAsMessages,
    OverwriteCellsAtOnce,
    SanitizeStudentContent,
    SaveAutoGradesAtOnce,
    StderrDoesNotScore,
)

c.Autograde.autograde_preprocessors = [
    ExecuteOnWorker,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    StderrDoesNotScore,
    SaveAutoGradesAtOnce,
    AssignLatePenalties,
    CheckCellMetadataOnce,
]
# nbgrader 0.9.6's sanitizing steps, with the same metadata check made once per notebook, not its schema once per
# cell, and the instructor's cells fetched once per notebook, not once per cell (benchmarks/coordinator_scale.py)
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCellsAtOnce, CheckCellMetadataOnce]
# nbconvert checks the whole notebook against nbformat's schema after every step; once, after the last, is the same
# check of what is written (a twentieth of the coordinator's time per student)
c.NotebookExporter.optimistic_validation = True
# Per cell. The slowest cell is the 5-epoch fit: ~45 s measured on 2 cores at batch size 32 (docs/benchmarks.md);
# 600 s leaves room for a loaded machine and a small batch size, and still cuts an endless loop.
c.Execute.timeout = 600
# The whole notebook, all cells together: N cells each just under the per-cell cap cannot hold a worker N times it.
c.ResilientExecute.notebook_timeout = 1800
# What each assignment's harness runs and its verifier checks is the assignment's spec: course/assignments/<name>/.

# --- late policy -------------------------------------------------------------------------------
# The due date is nbgrader's: `nbgrader db assignment add mnist_cnn --duedate="2026-11-20 23:59:00 UTC"` (or formgrader's
# Manage Assignments); with none, nothing is late. Lateness comes from each submission's timestamp.txt (the LMS upload time
# `course collect` records, or the exchange's submit time). AssignLatePenalties (in the pipeline above) asks this plugin
# for the penalty; `course export` and `course report` ask it again on the current score, manual scores included.
from course.late import PenaltyPerStartedDay  # noqa: E402

c.AssignLatePenalties.plugin_class = PenaltyPerStartedDay
c.PenaltyPerStartedDay.percent_per_day = 10.0  # percent of the student's score lost per started day late
c.PenaltyPerStartedDay.max_percent = 50.0  # never more than this
c.PenaltyPerStartedDay.grace_minutes = 0.0  # minutes after the due date that are not late

# --- feedback ----------------------------------------------------------------------------------
# Students see test messages, never hidden test source or tracebacks that quote it; what their code printed is
# rendered as inert text (no script, no active HTML).
c.GenerateFeedback.preprocessors = [
    GetGrades, ClearHiddenTestCells, FailedTestsAsMessages, SanitizeStudentContent, CSSHTMLHeaderPreprocessor,
]
c.HTMLExporter.sanitize_html = True
# The grader's own records beside each autograded notebook stay with the instructor (nbgrader copies other files).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "verification.json", ".course-*"]

# --- sandbox -----------------------------------------------------------------------------------
# Every process that runs student code, and the verifier, runs in bubblewrap with an allow-list of what it sees
# (course/grading/sandbox.py). c.Sandbox.enabled = False would grade untrusted code unsandboxed.
c.Sandbox.memory_bytes = 4 * 2**30

"""nbgrader configuration for this course (the repository root is the course directory)."""

import os

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "mnist-cnn"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- autograding -------------------------------------------------------------------------------
# Pipeline = nbgrader 0.9.6's default, with Execute made resilient, verification outside the kernel,
# and stderr kept from scoring.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from course.grading.preprocessors import (  # noqa: E402
    ExportArtifacts,
    FailedTestsAsMessages,
    ResilientExecute,
    StderrDoesNotScore,
    TrustedVerification,
)

# Scores of the verifiable tests come from outside the student's kernel: ExportArtifacts has the kernel save
# the model and returned values, TrustedVerification measures them in a process of its own.
c.Autograde.autograde_preprocessors = [
    ExportArtifacts,
    ResilientExecute,
    TrustedVerification,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    StderrDoesNotScore,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Per cell. The slowest cell is the 5-epoch fit: ~45 s measured on 2 cores at batch size 32 (docs/benchmarks.md);
# 600 s leaves room for a loaded machine and a small batch size, and still cuts an endless loop.
c.Execute.timeout = 600

# --- feedback ----------------------------------------------------------------------------------
# Students see test messages, never hidden test source or tracebacks that quote it.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, FailedTestsAsMessages, CSSHTMLHeaderPreprocessor]

# --- sandbox -----------------------------------------------------------------------------------
# Each kernel runs in bubblewrap: no network, read-only filesystem, the course directory hidden.
c.ResilientExecute.sandboxed = True
c.ExportArtifacts.sandboxed = True
c.Sandbox.course_root = c.CourseDirectory.root
c.Sandbox.memory_bytes = 4 * 2**30

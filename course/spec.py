"""What an assignment is, as data: the functions students write, how the grader calls them, the artifacts the
notebook leaves, and for every graded cell its check, its points and whether students see it.

An instructor adds an assignment by writing its notebook in ``source/<name>/`` and its spec in
``course/assignments/<name>/__init__.py``, a module of plain declarations ending in ``SPEC = Assignment(...)``.
The grading core (course.grading, course.sandboxed) reads only this: it names no assignment, function, grade id
or notebook variable. ``tests/test_assignment_specs.py`` checks every spec against its notebook.

How a spec is used, in order:
- the harness (sandboxed, beside student code) builds each ``Call``'s ``Input``\\ s, calls the student's function
  and keeps what ``keep`` says, as data; it gets the calls as JSON (``harness_plan``), never this module;
- the verifier (sandboxed, runs no student code) rebuilds the same inputs, turns each kept result back into a
  value, and runs every ``Test``'s ``check(value, *args)``; a check raises ``CheckFailed`` with a message the
  student can act on;
- an ``Artifact`` is saved by the kernel after the cell ``after_cell``; the verifier checks the model it holds
  against the harness's record (``built_by``, ``trained_by``) before the artifact's own tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .coursedir import CourseError


class SpecError(CourseError):
    """An assignment's spec is missing or malformed; the message names the file and what to write."""


@dataclass(frozen=True)
class Input:
    """An argument the grader builds, the same in the harness and in the verifier: ``factory(**options)``.

    ``factory`` is a dotted name under course.sandboxed.inputs or course.student (both visible to the harness).
    """

    factory: str
    options: dict = field(default_factory=dict)

    def as_data(self) -> dict:
        return {"factory": self.factory, "options": self.options}


def given(value) -> Input:
    """A literal argument: a number, a string, a shape."""
    return Input("course.sandboxed.inputs.literal", {"value": value})


@dataclass(frozen=True)
class Threshold:
    """A number a check compares with, and how it was chosen (instructor-only: never shipped)."""

    value: float
    chosen: str

    def as_input(self) -> Input:
        return given(self.value)


# What the harness keeps of a call (what the verifier's checks then see as ``value``):
RETURNED = "returned"  # the return value
MUTATED_ARGUMENT = "argument 0"  # the first argument after the call (a model the function compiled in place)
FIT_RECORD = "fit record"  # the first argument is a fit recorder: the fit calls it saw, and the returned type


@dataclass(frozen=True)
class Call:
    """How the grader calls one function students write."""

    function: str
    inputs: tuple[Input, ...]
    keep: str = RETURNED


CALL_INPUTS = Input("course.sandboxed.inputs.call_inputs")  # in Test.args: the inputs of the tested call


@dataclass(frozen=True)
class Test:
    """One graded cell of the notebook: ``check(value, *args)`` raises CheckFailed when the property fails.

    ``on``: the function (by name) whose kept result is ``value``, or the Artifact (by name) whose model it is.
    ``visible``: students see the test's code in the release (its check is then from course.student).
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    on: str
    check: Callable[..., Any]
    args: tuple[Input | Threshold, ...] = ()
    visible: bool = False


@dataclass(frozen=True)
class Artifact:
    """What the notebook leaves for the verifier: the kernel saves ``model`` (a notebook variable) after the cell
    ``after_cell`` has run.

    ``built_by``/``trained_by``: the functions that build and train it. The verifier requires the saved model to
    have the architecture ``built_by`` gave the harness, to have taken the training steps the harness's record of
    ``trained_by`` asks for (else the tests in ``record_tests`` fail and the student is flagged), and not to
    have been fitted on the test images.
    """

    name: str
    after_cell: str
    model: str
    built_by: str | None = None
    trained_by: str | None = None
    record_tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    name: str
    setup_cells: tuple[str, ...]  # locked cells the harness runs among the student's: imports and data, no training
    calls: tuple[Call, ...]
    tests: tuple[Test, ...]
    artifacts: tuple[Artifact, ...] = ()
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    keras_custom_objects: Callable[[], dict] | None = None  # names Keras cannot load in safe mode, mapped safely

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(call.function for call in self.calls)

    def call(self, function: str) -> Call:
        return next(call for call in self.calls if call.function == function)

    def artifact(self, name: str) -> Artifact | None:
        return next((artifact for artifact in self.artifacts if artifact.name == name), None)

    def tests_on(self, target: str) -> tuple[Test, ...]:
        return tuple(test for test in self.tests if test.on == target)

    @property
    def points(self) -> float:
        return sum(test.points for test in self.tests)

    def harness_plan(self) -> dict:
        """What the harness needs, as JSON: the setup cells and the calls, in order. No check, threshold or test."""
        return {"setup_cells": list(self.setup_cells), "calls": [
            {"function": call.function, "inputs": [item.as_data() for item in call.inputs], "keep": call.keep}
            for call in self.calls
        ]}

    def kernel_exports(self) -> dict[str, dict]:
        """grade_id of a cell -> the artifact the kernel saves after it: {"name", "model"}."""
        return {artifact.after_cell: {"name": artifact.name, "model": artifact.model} for artifact in self.artifacts}


def load(assignment: str) -> Assignment:
    """The spec of ``assignment``: ``SPEC`` in course/assignments/<assignment>/."""
    if not assignment.isidentifier():
        raise SpecError(f"{assignment!r} is not an assignment name (a Python identifier, as in source/<name>/).")
    try:
        module = importlib.import_module(f"course.assignments.{assignment}")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith(f"course.assignments.{assignment}"):
            raise SpecError(
                f"Assignment {assignment!r} has no spec: write course/assignments/{assignment}/__init__.py ending in "
                "SPEC = Assignment(...) (see course/spec.py, and the specs beside it in course/assignments/)."
            ) from None
        raise
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, Assignment) or spec.name != assignment:
        raise SpecError(f"course/assignments/{assignment}/__init__.py must define SPEC = Assignment(name={assignment!r}, ...).")
    return spec


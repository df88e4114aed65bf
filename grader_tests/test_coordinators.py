"""`course grade --coordinators K`: nbgrader's steps in K processes at once on the run's workers. Driven with an
executor that returns at once (grader_tests/instant.py), so the class is large and the run short."""

from __future__ import annotations

import functools
import io
import sys

from nbgrader.api import Gradebook
from rich.console import Console

from conftest import ASSIGNMENT, ROOT, gradebook_url
from course import grade
from course.grading.cluster import GradingCluster
from instant import instant_outcome

sys.path.insert(0, str(ROOT / "benchmarks"))
import dask_scale  # noqa: E402
from coordinator_scale import make_course  # noqa: E402


def test_several_coordinators_grade_every_student_once_into_one_gradebook(tmp_path):
    course = make_course(tmp_path / "course", 24)
    factory = functools.partial(GradingCluster, task=instant_outcome)
    results = grade.main(ASSIGNMENT, root=course, console=Console(file=io.StringIO()), workers=2, coordinators=3,
                         cluster_factory=factory)
    assert sorted(result.student for result in results) == [f"student{index:04d}" for index in range(24)]
    assert all(result.graded and result.score == 21 and not result.unchanged for result in results)
    with Gradebook(gradebook_url(course), "mnist-cnn") as gradebook:
        scores = {submission.student_id: submission.score for submission in gradebook.find_assignment(ASSIGNMENT).submissions}
    assert scores == {result.student: 21 for result in results}
    again = grade.main(ASSIGNMENT, root=course, console=Console(file=io.StringIO()), workers=2, coordinators=3,
                       cluster_factory=factory)
    assert all(result.unchanged for result in again) and len(again) == 24


def test_a_killed_worker_and_ctrl_c_lose_nothing_and_grade_no_one_twice_with_several_coordinators(tmp_path):
    course = make_course(tmp_path / "course", 30)
    first, events = dask_scale.run(course, workers=2, coordinators=2, kill_at=10, interrupt_at=20)
    assert [event.split()[0] for event in events] == ["killed", "Ctrl-C"], events
    graded_first = {student for student, said in first.items() if "21/21" in said}
    assert 20 <= len(graded_first) < 30, first  # stopped part-way
    second, _ = dask_scale.run(course, workers=2, coordinators=2)
    kept = {student for student, said in second.items() if "unchanged since graded" in said}
    graded_second = {student for student, said in second.items() if "21/21" in said and student not in kept}
    assert kept == graded_first
    assert not graded_first & graded_second
    assert graded_first | graded_second == {f"student{index:04d}" for index in range(30)}
    third, _ = dask_scale.run(course, workers=2, coordinators=2)
    assert all("unchanged since graded" in said for said in third.values()) and len(third) == 30

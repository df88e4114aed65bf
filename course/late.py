"""The late policy: nbgrader's due date, and a late-submission plugin that turns lateness into a penalty.

The policy lives in two places only, both nbgrader's own:

- the due date: the gradebook's ``Assignment.duedate``, set with
  ``nbgrader db assignment add mnist_cnn --duedate="2026-11-20 23:59:00 UTC"`` (or in formgrader's Manage
  Assignments). A student's extension (``SubmittedAssignment.extension``) moves their due date.
- the penalty: ``c.AssignLatePenalties.plugin_class`` in nbgrader_config.py, with its traits
  (``c.PenaltyPerStartedDay.percent_per_day`` ...).

Lateness is nbgrader's ``SubmittedAssignment.total_seconds_late``: the submission's timestamp (the timestamp.txt that
`course collect` writes from the LMS upload time, or that the exchange writes on submit) minus the due date.
`course grade` runs nbgrader's ``AssignLatePenalties``, which stores each notebook's penalty in the gradebook;
`course export` and `course report` call the same plugin again on the current score, so a manual score given
later in formgrader is penalised by the same rule (nbgrader does not recompute a stored penalty).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

DAY = 24 * 3600

__all__ = ["PenaltyPerStartedDay", "configured_penalty", "describe_lateness"]


class PenaltyPerStartedDay(LateSubmissionPlugin):
    """``percent_per_day`` percent of the student's score for each started day late, at most ``max_percent``.

    A submission 1 second to 24 hours late loses ``percent_per_day``; 24 hours and 1 second late, twice that. A
    submission later than ``grace_minutes`` past the due date only is late (the grace is not subtracted).
    """

    percent_per_day = Float(10.0, min=0.0, max=100.0, help="Percent of the score lost per started day late.").tag(config=True)
    max_percent = Float(50.0, min=0.0, max=100.0, help="Most percent of the score a late submission loses.").tag(config=True)
    grace_minutes = Float(0.0, min=0.0, help="Minutes after the due date that do not count as late.").tag(config=True)

    def percent(self, total_seconds_late: float) -> float:
        if total_seconds_late <= self.grace_minutes * 60:
            return 0.0
        return min(math.ceil(total_seconds_late / DAY) * self.percent_per_day, self.max_percent)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        percent = self.percent(total_seconds_late)
        if not percent:
            return None
        return round((score or 0.0) * percent / 100, 2)


def configured_penalty(config) -> Callable[[str, float, float], float]:
    """(student, score, seconds late) -> points lost, from the plugin ``c.AssignLatePenalties.plugin_class`` names in
    ``config`` (nbgrader's own default plugin, which penalises nothing, when none is set), clamped as nbgrader's
    ``AssignLatePenalties`` clamps it: never below 0, never above the score."""
    from nbgrader.preprocessors import AssignLatePenalties

    assigner = AssignLatePenalties(config=config)
    assigner.init_plugin()
    plugin = assigner.plugin_inst

    def penalty(student: str, score: float, seconds_late: float) -> float:
        if not seconds_late or seconds_late <= 0:
            return 0.0
        points = plugin.late_submission_penalty(student, score or 0.0, seconds_late)
        if points is None:
            return 0.0
        return float(min(max(points, 0.0), score or 0.0))

    return penalty


def describe_lateness(seconds: float) -> str:
    """'2 days 3 h', '5 h 10 min', '40 s': how late, in words."""
    seconds = int(math.ceil(seconds))
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"

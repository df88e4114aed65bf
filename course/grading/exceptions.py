"""Errors of the grading core, one class per kind of fault; none of them is a student's."""


class GradingError(RuntimeError):
    """The grader could not grade a submission; the message names the student or the file and what to do."""


class SandboxUnavailableError(GradingError):
    """The sandbox cannot start on this machine; the message says why and what the instructor can do."""


class WorkerNotReadyError(GradingError):
    """A worker machine cannot grade (no sandbox, no MNIST); no student's fault, so no student's score."""


class SubmissionRefused(GradingError):
    """A submission's file is not one the grader accepts (a link, a device, too large); the student is told why."""


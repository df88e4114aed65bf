"""An executor that returns at once: a perfect submission's outcome without running it, for measuring and
testing everything of `course grade` but the execution (benchmarks/coordinator_scale.py, dask_scale.py)."""

from __future__ import annotations

from course.grading.cluster import GradingCluster
from course.grading.worker import Job, Outcome


def instant_outcome(job: Job) -> Outcome:
    """What a worker returns for a perfect submission, without running it: the notebook as sent, every test passed."""
    import nbformat

    from course.spec import load

    notebook = nbformat.reads(job.notebook, as_version=4)
    graded = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")]
    functions = {test.grade_id: test.on for test in load(job.assignment).tests}
    record = {"verdicts": {grade_id: {"passed": True, "message": "", "function": functions.get(grade_id)} for grade_id in graded},
              "executed": graded, "stopped": None, "sandboxed": True}
    return Outcome(job.job_id, nbformat.writes(notebook), record, "instant", 0.0, 0)


class InstantCluster(GradingCluster):
    """The coordinator's side of a GradingCluster, with no workers: each job is done in the calling thread, at once."""

    def _connect(self) -> None:
        pass

    def _slots_per_host(self) -> dict[str, int]:
        return {"local": self.workers}

    def describe(self) -> str:
        return f"{self.workers} instant executor(s), no workers"

    def run(self, job: Job) -> Outcome:
        return instant_outcome(job)

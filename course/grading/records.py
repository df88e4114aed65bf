"""What grading keeps about each graded notebook, beside it in autograded/<student>/<assignment>/.

Only the coordinator writes these files (the autograded folder is never a sandbox's), so they can be believed.
"""

from __future__ import annotations

import json
from pathlib import Path

from .preprocessors import VERIFICATION_FILE

GRADED_MARKER = ".course-graded.json"


def read_verification(autograded_dir: Path) -> dict:
    path = autograded_dir / VERIFICATION_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def flags(autograded_dir: Path) -> list[str]:
    """Why a human should look: every disagreement between the kernel and the outside, and anything not verified."""
    reasons = []
    for flag in read_verification(autograded_dir).get("flags", []):
        cell = flag.get("cell")
        reasons.append(f"{cell}: {flag.get('reason')}" if cell else str(flag.get("reason")))
    return reasons


def disagreements(autograded_dir: Path) -> list[str]:
    """Test cells where the kernel and the verification outside it disagreed, in either direction."""
    return [item["cell"] for item in read_verification(autograded_dir).get("disagreements", [])]


def stopped_reason(autograded_dir: Path) -> str | None:
    """Why execution stopped early (the grader's own words, never the notebook's output), or None."""
    reason = read_verification(autograded_dir).get("stopped")
    return str(reason) if reason else None


def graded_digest(autograded_dir: Path) -> str | None:
    """The hash of the notebook bytes the last complete grading graded."""
    try:
        return json.loads((autograded_dir / GRADED_MARKER).read_text()).get("submission")
    except (OSError, ValueError, AttributeError):
        return None


def write_marker(autograded_dir: Path, digest: str, executions: list[dict]) -> None:
    (autograded_dir / GRADED_MARKER).write_text(json.dumps({"submission": digest, "executions": executions}, indent=1))

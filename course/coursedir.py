"""The nbgrader course directory the `course` commands run in (the current directory, like nbgrader)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"


class CourseError(RuntimeError):
    """A problem the instructor can fix; the command line prints it without a traceback."""


def course_root(path: str | os.PathLike | None = None) -> Path:
    root = Path(path or os.getcwd()).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseError(
            f"{root} is not a course directory: it has no {CONFIG_FILE}. "
            "Run `course` from the repository root, like nbgrader."
        )
    return root


def nbgrader_api(root: Path, **overrides):
    """An ``NbGraderAPI`` configured from the course's ``nbgrader_config.py``.

    ``overrides`` are extra config sections, e.g. ``{"Execute": {"timeout": 60}}``.
    """
    # nbgrader runs the `alembic` script of its own environment, which is not on PATH
    # when `course` is called as .venv/bin/course without activating the venv.
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config, PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    config.merge(Config(overrides))
    config.CourseDirectory.root = str(root)
    return NbGraderAPI(config=config)

"""`course demo`: the main job on a fresh clone."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from . import release, tutorial
from .coursedir import course_root


def main(root: Path | None = None, console: Console | None = None):
    console = console or Console()
    root = course_root(root)
    console.rule("Release the student notebooks")
    release.main(root=root, console=console)
    console.rule("Run the tutorial")
    tutorial.main(root=root, console=console)

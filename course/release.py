"""`course release`: generate the student notebooks in release/ from source/ through nbgrader."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .coursedir import CourseError, course_root, nbgrader_api


def source_assignments(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "source").iterdir() if path.is_dir() and any(path.glob("*.ipynb")))


def main(assignment: str | None = None, root: Path | None = None, console: Console | None = None) -> list[str]:
    console = console or Console()
    root = course_root(root)
    available = source_assignments(root)
    if assignment is not None and assignment not in available:
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}; there are: {', '.join(available)}.")
    api = nbgrader_api(root)
    released = []
    for name in [assignment] if assignment else available:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"nbgrader could not release '{name}':\n{result['error']}\n{result['log']}")
        console.print(f"Released {name} -> {(root / 'release' / name).relative_to(root)}/")
        released.append(name)
    return released

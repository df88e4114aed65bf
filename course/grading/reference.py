"""The reference answers, taken from the solution cells of the source notebook (the one place they live)."""

from __future__ import annotations

from pathlib import Path

from course.sandboxed.notebook_code import code_cells, solution_code
from course.spec import load


def reference_namespace(source_notebook: Path, setup_cells: tuple[str, ...] | None = None) -> dict:
    """Execute the source notebook's setup and solution cells, in notebook order; return the namespace with the
    students' functions. ``setup_cells``: by default, the spec's of the notebook's assignment (its folder's name)."""
    if setup_cells is None:
        setup_cells = load(source_notebook.parent.name).setup_cells
    namespace: dict = {}
    for cell in code_cells(source_notebook):
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") or meta.get("grade_id") in setup_cells:
            exec(compile(solution_code(cell["source"]), f"{source_notebook.name}:{meta['grade_id']}", "exec"), namespace)
    return namespace

"""The reference answers, taken from the solution cells of the source notebook (the one place they live)."""

from __future__ import annotations

from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_code(cell_source: str) -> str:
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in (BEGIN, END))


def reference_namespace(source_notebook: Path) -> dict:
    """Execute the source notebook's imports and solution cells; return the namespace with the five functions."""
    notebook = nbformat.read(source_notebook, as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "imports"):
            exec(compile(solution_code(cell.source), f"{source_notebook.name}:{meta['grade_id']}", "exec"), namespace)
    return namespace

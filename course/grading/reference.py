"""The reference answers, taken from the solution cells of the source notebook (the one place they live)."""

from __future__ import annotations

import json
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_code(cell_source: str) -> str:
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in (BEGIN, END))


def reference_namespace(source_notebook: Path) -> dict:
    """Execute the source notebook's imports and solution cells; return the namespace with the five functions."""
    namespace: dict = {}
    for cell in code_cells(source_notebook):
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") or meta.get("grade_id") == "imports":
            exec(compile(solution_code(cell["source"]), f"{source_notebook.name}:{meta['grade_id']}", "exec"), namespace)
    return namespace


def code_cells(notebook_path: Path) -> list[dict]:
    """The code cells, read as plain JSON with their source as one string.

    Not through nbformat: importing it imports jsonschema's format checkers, whose grammars take seconds to compile
    in every process that grades (the harness and the verifier start once per submission).
    """
    cells = json.loads(notebook_path.read_text())["cells"]
    return [
        {**cell, "source": "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]}
        for cell in cells
        if cell["cell_type"] == "code"
    ]

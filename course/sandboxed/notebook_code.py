"""Reading a notebook's code without nbformat, for the processes that run beside student code."""

from __future__ import annotations

import json
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_code(cell_source: str) -> str:
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in (BEGIN, END))


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

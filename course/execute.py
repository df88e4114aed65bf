"""Execute a notebook in a real Jupyter kernel with nbclient, and keep what it showed."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

DEFAULT_CELL_TIMEOUT_S = 600


@dataclass
class ExecutedNotebook:
    notebook: nbformat.NotebookNode
    seconds: float
    figures: list[Path] = field(default_factory=list)

    def stdout(self) -> str:
        return "".join(
            output.get("text", "")
            for cell in self.notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.output_type == "stream" and output.name == "stdout"
        )

    def errors(self) -> list[str]:
        return [
            f"{output.ename}: {output.evalue}"
            for cell in self.notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.output_type == "error"
        ]


def execute_notebook(
    source: Path,
    output: Path | None = None,
    figures_dir: Path | None = None,
    timeout: int = DEFAULT_CELL_TIMEOUT_S,
) -> ExecutedNotebook:
    """Run ``source`` top to bottom in its own folder; save it and its PNG figures when asked.

    Raises nbclient's ``CellExecutionError`` naming the failing cell.
    """
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(source).parent)}},
    )
    started = time.perf_counter()
    client.execute()
    result = ExecutedNotebook(notebook, time.perf_counter() - started)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
    if figures_dir is not None:
        result.figures = save_figures(notebook, figures_dir)
    return result


def save_figures(notebook: nbformat.NotebookNode, figures_dir: Path) -> list[Path]:
    figures_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for cell_number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        pngs = [output.data["image/png"] for output in cell.outputs if "image/png" in output.get("data", {})]
        for figure_number, png in enumerate(pngs, start=1):
            path = figures_dir / f"cell{cell_number:02d}_figure{figure_number}.png"
            path.write_bytes(base64.b64decode(png))
            saved.append(path)
    return saved

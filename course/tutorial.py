"""`course tutorial`: run the tutorial notebook headlessly and say where its results are."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .coursedir import course_root
from .execute import execute_notebook

TUTORIAL = Path("source") / "cnn_tutorial" / "cnn_tutorial.ipynb"
OUTPUT_DIR = Path("build") / "cnn_tutorial"


def main(root: Path | None = None, console: Console | None = None):
    console = console or Console()
    root = course_root(root)
    output_dir = root / OUTPUT_DIR
    executed_path = output_dir / TUTORIAL.name
    with console.status(f"Running {TUTORIAL} in a Jupyter kernel (trains a small CNN, about a minute)..."):
        result = execute_notebook(root / TUTORIAL, output=executed_path, figures_dir=output_dir / "figures")
    accuracy = [line for line in result.stdout().splitlines() if line.startswith("Test accuracy")]
    console.print(f"[green]Tutorial ran in {result.seconds:.0f} s.[/] {' '.join(accuracy)}")
    console.print(f"Executed notebook: {executed_path.relative_to(root)}")
    console.print(f"Figures ({len(result.figures)}): {(output_dir / 'figures').relative_to(root)}/")
    for figure in result.figures:
        console.print(f"  {figure.relative_to(root)}")
    return result

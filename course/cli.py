"""The `course` command line: a thin layer over one module per verb.

Like nbgrader, it runs in the course directory (the folder with nbgrader_config.py).
"""

from __future__ import annotations

import functools
import os
import sys

import click
from rich.console import Console

from .coursedir import CourseError

console = Console()


def reports_course_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CourseError as error:
            console.print(f"[red]error:[/] {error}")
            sys.exit(2)

    return wrapper


@click.group(help=__doc__)
def main():
    # Kernels run in each notebook's own folder: a relative MNIST_PATH must not change meaning there.
    if os.environ.get("MNIST_PATH"):
        os.environ["MNIST_PATH"] = os.path.abspath(os.environ["MNIST_PATH"])


@main.command(help="Generate release/ (the student notebooks) from source/ through nbgrader.")
@click.argument("assignment", required=False)
@reports_course_errors
def release(assignment):
    from . import release as release_module

    release_module.main(assignment, console=console)


@main.command(help="Run the tutorial notebook headlessly; print where the executed notebook and figures are.")
@reports_course_errors
def tutorial():
    from . import tutorial as tutorial_module

    tutorial_module.main(console=console)


@main.command(help="The main job on a fresh clone (what `make demo` runs).")
@reports_course_errors
def demo():
    from . import demo as demo_module

    demo_module.main(console=console)

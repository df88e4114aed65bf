"""The `course` command line: a thin layer over one module per verb.

Like nbgrader, it runs in the course directory (the folder with nbgrader_config.py).
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .coursedir import CourseError
from .student.data import make_mnist_path_absolute

console = Console(soft_wrap=True)  # long paths and messages stay whole, for copying


def reports_course_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CourseError as error:
            console.print(f"[red]error:[/] {escape(str(error))}")
            sys.exit(2)

    return wrapper


@click.group(help=__doc__)
def main():
    # nbgrader 0.9.6 triggers SQLAlchemy autoflush warnings on every autograde; they are not ours to fix.
    warnings.filterwarnings("ignore", message="Object of type <Submitted", module="nbgrader")
    make_mnist_path_absolute()


@main.command(help="Generate release/ (the student notebooks) from source/ through nbgrader.")
@click.argument("assignment", required=False)
@reports_course_errors
def release(assignment):
    from . import release as release_module

    release_module.main(assignment, console=console)


@main.command(help="File an LMS bulk download (ARCHIVE.zip) into submitted/<student>/ASSIGNMENT/, or collect from the nbgrader exchange.")
@click.argument("assignment")
@click.argument("archive", required=False, type=click.Path(path_type=Path))
@click.option("--mapping", type=click.Path(path_type=Path), help="CSV with columns lms_id,student_id.")
@click.option("--exchange", is_flag=True, help="Collect with `nbgrader collect` from a JupyterHub exchange.")
@reports_course_errors
def collect(assignment, archive, mapping, exchange):
    from . import collect as collect_module

    collect_module.main(assignment, archive, mapping, exchange, console=console)


@main.command(help="Autograde every submission under submitted/<student>/ASSIGNMENT/, or one student's. "
              "Submissions graded before and unchanged since keep their grade (a stopped run resumes).")
@click.argument("assignment")
@click.option("--student", help="Grade only this student (always regraded).")
@click.option("--workers", type=click.IntRange(min=1), help="Submissions graded at once on this machine [default: the number of cores].")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Grade on the workers of this Dask scheduler instead.")
@click.option("--force", is_flag=True, help="Regrade every submission, changed or not.")
@click.option("--reverify", is_flag=True, help="Regrade every submission with the assignment's current checks, "
              "messages and thresholds, from what grading stored of its run: no notebook is run again, except where "
              "the stored run no longer stands for it (said per student).")
@click.option("--coordinators", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes running nbgrader's steps and writing the gradebook at once, on the same workers: for a "
              "large class on many cores (docs/benchmarks.md, \"A class of a thousand\").")
@reports_course_errors
def grade(assignment, student, workers, scheduler, force, reverify, coordinators):
    from . import grade as grade_module

    try:
        results = grade_module.main(assignment, student, console=console, workers=workers, scheduler=scheduler,
                                    force=force, reverify=reverify, coordinators=coordinators)
    except KeyboardInterrupt:
        sys.exit(130)
    if any(not result.graded for result in results):
        sys.exit(1)


@main.command(help="Write per-student HTML feedback (no hidden tests) to feedback/.")
@click.argument("assignment")
@reports_course_errors
def feedback(assignment):
    from . import feedback as feedback_module

    feedback_module.main(assignment, console=console)


@main.command(help="Write the gradebook's scores (manual scores and late penalties included) to CSV: by default one row "
              "per student, one column per test cell; with --format canvas or moodle, the LMS's own grade import file "
              "for ASSIGNMENT, one row per student of --roster.")
@click.argument("assignment", required=False)
@click.option("-o", "--output", help="File to write [default: grades.csv; reports/ASSIGNMENT_canvas.csv or reports/ASSIGNMENT_moodle.csv].")
@click.option("--format", "format_", type=click.Choice(["csv", "canvas", "moodle"]), default="csv", show_default=True,
              help="csv: every column; canvas: Canvas's Gradebook import CSV; moodle: Moodle's CSV grade import.")
@click.option("--roster", type=click.Path(path_type=Path),
              help="canvas/moodle: the roster given to `course collect --mapping`, with the LMS's identifier columns "
                   "(canvas_id, sis_user_id, sis_login_id, name, section; idnumber or email), or a Canvas gradebook export.")
@click.option("--lms-assignment", metavar="NAME", help="The assignment's column in the LMS: 'Name (ID)' as Canvas exports it; "
              "the grade item's name for Moodle [default: ASSIGNMENT, found in a Canvas export given as --roster].")
@click.option("--missing", type=click.Choice(["empty", "zero"]), default="empty", show_default=True,
              help="canvas/moodle: what a roster student with no submission gets.")
@click.option("--match-column", default="SIS Login ID", show_default=True,
              help="With a Canvas gradebook export as --roster: its column that holds the course's student ids.")
@click.option("--notes-column", metavar="TITLE", help="canvas: also write late penalties and manual scores to this custom "
              "column, which must exist in the Canvas gradebook (e.g. Notes); any other title would become an assignment.")
@click.option("--moodle-user-field", type=click.Choice(["idnumber", "email"]), default="idnumber", show_default=True,
              help="moodle: the roster column Moodle matches users by (Map to: useridnumber or useremail).")
@reports_course_errors
def export(assignment, output, format_, roster, lms_assignment, missing, match_column, notes_column, moodle_user_field):
    from . import export as export_module

    export_module.main(assignment, output, console=console, format=format_, roster=roster, lms_assignment=lms_assignment,
                       missing=missing, match_column=match_column, notes_column=notes_column, moodle_user_field=moodle_user_field)


@main.command(help="List every student of ASSIGNMENT who needs a human, with the reason (flagged, could not verify, stopped "
              "early, submitted late, not graded) and the paths to look at; then what was decided in formgrader.")
@click.argument("assignment")
@reports_course_errors
def review(assignment):
    from . import review as review_module

    review_module.main(assignment, console=console)


@main.command(help="Write reports/ASSIGNMENT.png and .html: grade distribution, failure rate per check, flagged students.")
@click.argument("assignment")
@reports_course_errors
def report(assignment):
    from . import report as report_module

    report_module.main(assignment, console=console)


@main.command(help="Write the student-facing tree (notebooks, student package, Binder environment, README) to OUTDIR.")
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--org", default="your-github-org", show_default=True, help="GitHub owner of the student repository.")
@click.option("--repo", default="mnist-cnn-student", show_default=True, help="Name of the student repository.")
@click.option("--ref", default="main", show_default=True, help="Branch, tag or commit Binder builds.")
@reports_course_errors
def publish(outdir, org, repo, ref):
    from . import publish as publish_module

    publish_module.main(outdir, org, repo, ref, console=console)


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


@main.command(help="Check that this machine can grade: bubblewrap, the sandbox (starts, no network, process and "
              "memory caps), cgroups, MNIST and a Jupyter kernel. Exit status 1 when a check fails.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the checks on each worker of this Dask scheduler instead.")
def doctor(scheduler):
    from . import doctor as doctor_module

    if not doctor_module.main(console=console, scheduler=scheduler):
        sys.exit(1)

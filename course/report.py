"""`course report`: the class at a glance, from the gradebook: grade distribution, failure rate of each check,
and the students grading flagged (verification overruled the kernel, a kernel that died or timed out).

Totals are `course export`'s: a manual score from formgrader overrides the autograde, and the late penalty
(course/late.py) is taken off; both are shown per student, as such.

Writes reports/<assignment>.png and reports/<assignment>.html.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from rich.console import Console
from rich.markup import escape

from .coursedir import CourseError, course_root, nbgrader_api  # noqa: E402
from .export import grade_table  # noqa: E402
from .late import configured_penalty, describe_lateness  # noqa: E402
from .spec import load as load_spec  # noqa: E402

REPORTS_DIR = "reports"


def class_figure(table: pd.DataFrame, assignment: str):
    points = {test.grade_id: test.points for test in load_spec(assignment).tests}
    tests = [grade_id for grade_id in points if grade_id in table.columns]
    max_points = pd.Series({grade_id: points[grade_id] for grade_id in tests})
    failure_rate = (table[tests] < max_points).mean().sort_values(ascending=False).rename("failure rate").reset_index()
    failure_rate.columns = ["check", "failure rate"]
    fig, (grades_ax, checks_ax) = plt.subplots(1, 2, figsize=(15, max(5, 0.32 * len(tests))), gridspec_kw={"width_ratios": [1, 1.3]})
    sns.histplot(table["total"], bins=range(0, int(table["max_score"].max()) + 2), ax=grades_ax, color="tab:blue")
    grades_ax.set_title(f"{assignment}: grade distribution ({len(table)} students)")
    grades_ax.set_xlabel(f"Total score (out of {table['max_score'].max():g})")
    grades_ax.set_ylabel("Students")
    sns.barplot(data=failure_rate, y="check", x="failure rate", ax=checks_ax, color="tab:red")
    checks_ax.set_xlim(0, 1)
    checks_ax.set_title("Share of students failing each check")
    checks_ax.set_xlabel("Failure rate")
    checks_ax.set_ylabel("")
    fig.tight_layout()
    return fig, failure_rate


def adjustments(table: pd.DataFrame) -> pd.DataFrame:
    """Students whose total holds a manual score or a late penalty: student, total, raw_total, manual, late."""
    if "manual" not in table:
        return pd.DataFrame(columns=["student", "total", "raw_total", "manual", "late"])
    rows = table[(table["manual"].fillna("") != "") | (table["seconds_late"].fillna(0) > 0)]
    return pd.DataFrame({
        "student": rows["student"], "total": rows["total"], "raw_total": rows["raw_total"], "manual": rows["manual"].fillna(""),
        "late": [f"{describe_lateness(row.seconds_late)} late: penalty {row.late_penalty:g}" if row.seconds_late > 0 else ""
                 for row in rows.itertuples()],
    })


def render_html(assignment: str, table: pd.DataFrame, failure_rate: pd.DataFrame, png: bytes) -> str:
    flagged = table[table["flags"] != ""][["student", "total", "flags"]]
    manual = dict(zip(table["student"], table["manual"].fillna(""))) if "manual" in table else {}
    flagged_rows = "".join(
        f"<tr><td>{html.escape(str(row.student))}</td><td>{row.total:g}</td><td>{html.escape(row.flags)}</td>"
        f"<td>{html.escape(manual.get(row.student, '') or 'not yet')}</td></tr>"
        for row in flagged.itertuples()
    ) or '<tr><td colspan="4">No student was flagged.</td></tr>'
    adjusted_rows = "".join(
        f"<tr><td>{html.escape(str(row.student))}</td><td>{row.total:g}</td><td>{row.raw_total:g}</td>"
        f"<td>{html.escape(row.manual)}</td><td>{html.escape(row.late)}</td></tr>"
        for row in adjustments(table).itertuples()
    ) or '<tr><td colspan="5">No manual score and no late penalty.</td></tr>'
    missed = "".join(
        f"<tr><td>{html.escape(row.check)}</td><td>{row._2:.0%}</td></tr>" for row in failure_rate.itertuples()
    )
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Class report: {html.escape(assignment)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>
<body><h1>Class report: {html.escape(assignment)}</h1>
<p>{len(table)} students; mean {table['total'].mean():.1f} / {table['max_score'].max():g}, median {table['total'].median():g}.</p>
<img alt="Grade distribution and failure rate of each check" src="data:image/png;base64,{image}" style="max-width:100%">
<h2>Flagged by grading</h2>
<table><tr><th>student</th><th>total</th><th>why</th><th>manual score (decided in formgrader)</th></tr>{flagged_rows}</table>
<h2>Manual scores and late penalties</h2>
<p>A manual score given in formgrader overrides the autograde; the late penalty is taken off the total.</p>
<table><tr><th>student</th><th>total</th><th>before the late penalty</th><th>manual scores (autograde)</th><th>late</th></tr>{adjusted_rows}</table>
<h2>Checks, most missed first</h2>
<table><tr><th>check</th><th>failure rate</th></tr>{missed}</table>
</body></html>
"""


def main(assignment: str, root: Path | None = None, console: Console | None = None) -> tuple[Path, Path]:
    console = console or Console()
    root = course_root(root)
    api = nbgrader_api(root)
    try:
        table = grade_table(api.coursedir.db_url, api.coursedir.course_id, assignment, root / "source", root / "autograded",
                            penalty=configured_penalty(api.config), details=True)
    except Exception as error:  # nbgrader's MissingEntry, or no gradebook yet
        raise CourseError(f"No grades for '{assignment}' in the gradebook ({error}): run `course grade {assignment}` first.") from None
    if table.empty:
        raise CourseError(f"No grades for '{assignment}' in the gradebook: run `course grade {assignment}` first.")
    fig, failure_rate = class_figure(table, assignment)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    out_dir = root / REPORTS_DIR
    out_dir.mkdir(exist_ok=True)
    png_path, html_path = out_dir / f"{assignment}.png", out_dir / f"{assignment}.html"
    png_path.write_bytes(buffer.getvalue())
    html_path.write_text(render_html(assignment, table, failure_rate, buffer.getvalue()))
    console.print(f"Class report: {html_path.relative_to(root)} (figure: {png_path.relative_to(root)})")
    flagged = table[table["flags"] != ""]
    for row in flagged.itertuples():
        console.print(f"  flagged {escape(str(row.student))}: {escape(str(row.flags))}")
    for row in adjustments(table).itertuples():
        console.print(f"  {escape(str(row.student))}: total {row.total:g}"
                      + (f"; manual score: {escape(row.manual)}" if row.manual else "") + (f"; {escape(row.late)}" if row.late else ""))
    return png_path, html_path

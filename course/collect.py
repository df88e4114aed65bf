"""`course collect`: file an LMS bulk download (or the JupyterHub exchange) into submitted/<student>/<assignment>/.

The LMS path is nbgrader's `zip_collect` with a file-name collector plugin for LMS exports. On top of it:
every file gets a reported outcome, nothing is dropped or overwritten silently (problem files are kept in
downloaded/<assignment>/unfiled/, older uploads and earlier collections in downloaded/<assignment>/superseded/),
renamed or nested notebooks are filed under the assignment's notebook name, and a notebook is accepted only
when it is readable and has this assignment's cells.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import FileNameCollectorPlugin
from rich.console import Console
from rich.table import Table
from traitlets import Dict, Unicode

from .coursedir import CourseError, course_root, nbgrader_api

# <student>_<lmsid>_<timestamp>_<original name>, e.g. alice_1001_20261120T101500_mnist_cnn.ipynb
LMS_PATTERN = r"(?P<student_id>[A-Za-z0-9.\-]+)_(?P<lms_id>\d+)_(?P<timestamp>\d{8}T?\d{6}Z?)_(?P<file_id>.+)"
TIMESTAMP_FORMATS = ("%Y%m%dT%H%M%S", "%Y%m%d%H%M%S", "%Y%m%dT%H%M%SZ")


@dataclass
class FileOutcome:
    file: str  # path inside the archive
    student: str = ""
    outcome: str = ""  # filed, superseded, unfiled
    detail: str = ""


def parse_lms_timestamp(text: str) -> datetime:
    for fmt in TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"unrecognised timestamp {text!r}")


def read_mapping(path: Path) -> dict[str, str]:
    """LMS id -> student id, from a CSV with columns lms_id and student_id."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets often add a BOM
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CourseError(f"Cannot read the id mapping {path} ({error}); it must be a CSV with the columns lms_id and student_id.") from None
    if not rows or not {"lms_id", "student_id"} <= set(rows[0]) or any(not row["student_id"] for row in rows):
        raise CourseError(f"{path} must be a CSV with the columns lms_id and student_id.")
    return {row["lms_id"].strip(): row["student_id"].strip() for row in rows}


class LmsFileNameCollector(FileNameCollectorPlugin):
    """Collects LMS export files named `<student>_<lmsid>_<timestamp>_<original name>`.

    Returns the notebook under the assignment's own notebook name whatever the student called it, maps LMS ids
    to student ids when a mapping is given, and records why any file is not collected.
    """

    named_regexp = Unicode(LMS_PATTERN).tag(config=True)
    id_mapping = Dict().tag(config=True)
    notebook_name = Unicode().tag(config=True)
    expected_cells = Unicode(help="JSON list of the grade ids every submission must have").tag(config=True)
    extracted_root = Unicode().tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, FileOutcome] = {}

    def _relative(self, path: str) -> str:
        return str(Path(path).relative_to(self.extracted_root)) if self.extracted_root else path

    def _unfiled(self, path: str, reason: str, student: str = "") -> None:
        self.outcomes[path] = FileOutcome(self._relative(path), student, "unfiled", reason)
        return None

    def collect(self, submitted_file: str):
        name = Path(submitted_file).name
        match = re.fullmatch(self.named_regexp, name)
        if not match:
            return self._unfiled(submitted_file, "file name does not follow <student>_<lmsid>_<timestamp>_<name>")
        info = match.groupdict()
        student = info["student_id"]
        if self.id_mapping:
            if info.get("lms_id") not in self.id_mapping:
                return self._unfiled(submitted_file, f"LMS id {info.get('lms_id')} is not in the id mapping", student)
            student = self.id_mapping[info["lms_id"]]
        if Path(name).suffix != ".ipynb":
            return self._unfiled(submitted_file, f"not a notebook ({Path(name).suffix or 'no extension'})", student)
        problem = self._notebook_problem(Path(submitted_file))
        if problem:
            return self._unfiled(submitted_file, problem, student)
        try:
            timestamp = parse_lms_timestamp(info["timestamp"])
        except ValueError as error:
            return self._unfiled(submitted_file, str(error), student)
        notes = []
        if Path(info["file_id"]).stem != self.notebook_name:
            notes.append(f"renamed by the student ({info['file_id']})")
        folder = Path(self._relative(submitted_file)).parent
        if str(folder) != ".":
            notes.append(f"was in the sub-folder {folder}/")
        self.outcomes[submitted_file] = FileOutcome(self._relative(submitted_file), student, "filed", "; ".join(notes))
        return {"student_id": student, "file_id": self.notebook_name, "timestamp": timestamp}

    def _notebook_problem(self, path: Path) -> str | None:
        if path.stat().st_size == 0:
            return "empty file"
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception as error:  # nbformat raises several types for unreadable JSON
            return f"not a readable notebook ({type(error).__name__}); ask the student to download it again"
        present = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells}
        missing = sorted(set(json.loads(self.expected_cells)) - present)
        if missing:
            return f"not this assignment's notebook: it lacks {len(missing)} of its cells (e.g. {missing[0]})"
        return None


class CourseZipCollect(ZipCollectApp):
    """nbgrader's zip_collect, moving aside what it would overwrite or skip instead of losing it."""

    superseded_dir = Unicode().tag(config=True)

    def _collect_files(self, src_files):
        data = super()._collect_files(src_files)
        # zip_collect keeps only the newest upload per student; keep the others aside, and say so
        collector = self.collector_plugin_inst
        chosen = {source for record in data.values() for source in record["src_files"]}
        for source, outcome in collector.outcomes.items():
            if outcome.outcome == "filed" and source not in chosen:
                target = Path(self.superseded_dir) / outcome.student / f"older-upload_{Path(source).name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                outcome.outcome = "superseded"
                outcome.detail = f"an older upload; kept as {target.relative_to(self.coursedir.root)}"
        return data

    def _transfer_files(self, collected_data):
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        for student_id in collected_data:
            existing = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student_id, self.coursedir.assignment_id))
            if existing.is_dir() and any(existing.iterdir()):
                target = Path(self.superseded_dir) / student_id / f"previously-collected_{stamp}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(existing), target)
                self.log.warning("Moved the earlier submission of %s to %s", student_id, target)
        super()._transfer_files(collected_data)


def release_notebook(root: Path, assignment: str) -> Path:
    notebooks = sorted((root / "release" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise CourseError(f"Expected one released notebook in {root / 'release' / assignment}; run `course release {assignment}`.")
    return notebooks[0]


def collect_lms(root: Path, assignment: str, archive: Path, mapping: Path | None = None) -> list[FileOutcome]:
    archive = archive.resolve()
    if not archive.is_file():
        raise CourseError(f"{archive} does not exist: give the path of the LMS bulk download (.zip).")
    if not zipfile.is_zipfile(archive):
        raise CourseError(f"{archive} is not a zip archive: download the submissions from the LMS as one zip.")
    released = release_notebook(root, assignment)
    expected_cells = [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nbformat.read(released, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]
    downloaded = root / "downloaded" / assignment
    staging = downloaded / "archive"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.copy2(archive, staging / archive.name)

    api = nbgrader_api(root)
    config = api.config
    config.ZipCollectApp.force = True  # clears the staging folders; CourseZipCollect keeps submissions aside
    config.ZipCollectApp.collector_plugin = LmsFileNameCollector
    config.ZipCollectApp.superseded_dir = str(downloaded / "superseded")
    config.LmsFileNameCollector.id_mapping = read_mapping(mapping) if mapping else {}
    config.LmsFileNameCollector.notebook_name = released.stem
    config.LmsFileNameCollector.expected_cells = json.dumps(expected_cells)
    config.LmsFileNameCollector.extracted_root = str(downloaded / "extracted" / archive.stem)
    config.ZipCollectApp.log_level = "ERROR"  # every file's outcome is in the report instead
    app = CourseZipCollect(config=config)
    app.coursedir = CourseDirectory(parent=app)
    app.coursedir.assignment_id = assignment
    app.init_plugins()
    app.extract_archive_files()
    app.process_extracted_files()
    outcomes = list(app.collector_plugin_inst.outcomes.values())
    unfiled_dir = downloaded / "unfiled"
    for source, outcome in app.collector_plugin_inst.outcomes.items():
        if outcome.outcome == "unfiled":
            kept = unfiled_dir / outcome.file
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, kept)
            outcome.detail += f"; kept as {kept.relative_to(root)}"
    return sorted(outcomes, key=lambda outcome: (outcome.outcome != "filed", outcome.student, outcome.file))


def collect_exchange(root: Path, assignment: str) -> None:
    api = nbgrader_api(root)
    result = api.collect(assignment, update=True)
    if not result["success"]:
        raise CourseError(f"nbgrader collect failed for '{assignment}':\n{result['error']}\n{result['log']}")


def report(outcomes: list[FileOutcome], root: Path, assignment: str, console: Console) -> Path:
    table = Table(title=f"Collected {assignment}")
    for column in ("file in archive", "student", "outcome", "detail"):
        table.add_column(column)
    colours = {"filed": "green", "superseded": "yellow", "unfiled": "red"}
    for outcome in outcomes:
        table.add_row(outcome.file, outcome.student or "?", f"[{colours[outcome.outcome]}]{outcome.outcome}[/]", outcome.detail)
    console.print(table)
    path = root / "downloaded" / assignment / "collect_report.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "student", "outcome", "detail"])
        writer.writerows([(o.file, o.student, o.outcome, o.detail) for o in outcomes])
    filed = sum(outcome.outcome == "filed" for outcome in outcomes)
    console.print(
        f"{filed} notebook(s) filed under submitted/<student>/{assignment}/, "
        f"{sum(o.outcome == 'superseded' for o in outcomes)} older upload(s) kept aside, "
        f"{sum(o.outcome == 'unfiled' for o in outcomes)} file(s) not filed (see the detail column). "
        f"Report: {path.relative_to(root)}. Next: `course grade {assignment}`."
    )
    return path


def main(assignment: str, archive: Path | None = None, mapping: Path | None = None, exchange: bool = False,
         root: Path | None = None, console: Console | None = None) -> list[FileOutcome]:
    console = console or Console()
    root = course_root(root)
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}.")
    if exchange:
        if archive is not None:
            raise CourseError("Give either an archive or --exchange, not both.")
        collect_exchange(root, assignment)
        console.print(f"Collected {assignment} from the nbgrader exchange into submitted/.")
        return []
    if archive is None:
        raise CourseError("Give the LMS bulk download (ARCHIVE.zip), or --exchange for a JupyterHub exchange.")
    outcomes = collect_lms(root, assignment, Path(archive), Path(mapping) if mapping else None)
    report(outcomes, root, assignment, console)
    return outcomes

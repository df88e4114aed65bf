"""`course collect`: file an LMS bulk download (or the JupyterHub exchange) into submitted/<student>/<assignment>/.

The LMS path files each upload of the bulk download under the student the LMS named in its file name, through
nbgrader's `zip_collect` (newest upload wins, its time becomes timestamp.txt) with a file-name collector for LMS
exports. The download is unpacked here, not by nbgrader, because an upload is untrusted:

- Only the download's own files are uploads. An upload that is itself a zip is that student's material: intake
  looks inside it for their one notebook (never at the file names inside), or refuses it with the reason.
- Caps on files, uncompressed size, archive nesting and name length (the `Intake` traits, set in
  nbgrader_config.py as `c.Intake.max_upload_bytes = ...`) are checked from each zip's central directory before
  anything is written. A download over a cap stops with the cap named; an upload over one is refused alone.
- Student ids must pass `course.student_ids.id_problem`; look-alike ids are reported.
- Nothing is written outside downloaded/<assignment>/ and submitted/<student>/<assignment>/: every target path is
  resolved and checked first.

Every file gets a reported outcome, nothing is dropped or overwritten silently (problem files are kept in
downloaded/<assignment>/unfiled/, older uploads and earlier collections in downloaded/<assignment>/superseded/,
and the download itself in downloaded/<assignment>/archive/), renamed or nested notebooks are filed under the
assignment's notebook name, and a notebook is accepted only when it is readable and has this assignment's cells.
A file that cannot be handled is reported with its reason; it never stops the class.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import FileNameCollectorPlugin
from rich.console import Console
from rich.table import Table
from rich.text import Text
from traitlets import Dict, Int, Unicode
from traitlets.config import Configurable

from .coursedir import CourseError, course_root, nbgrader_api
from .csv_safety import safe_csv_row
from .student_ids import id_problem, lookalikes, visible

# <student>_<lmsid>_<timestamp>_<original name>, e.g. alice_1001_20261120T101500_mnist_cnn.ipynb
LMS_PATTERN = r"(?P<student_id>[A-Za-z0-9.\-]+)_(?P<lms_id>\d+)_(?P<timestamp>\d{8}T?\d{6}Z?)_(?P<file_id>.+)"
TIMESTAMP_FORMATS = ("%Y%m%dT%H%M%S", "%Y%m%d%H%M%S", "%Y%m%dT%H%M%SZ")
MAX_PATH_BYTES = 1024  # a whole path inside the download; each of its names is capped by Intake.max_name_bytes
FILE_NAME_BYTES = 255  # what Linux, macOS and Windows file systems take for one name
MB = 2**20


class Intake(Configurable):
    """Caps on what `course collect` takes from an LMS download, checked before anything is unpacked.

    Set them in nbgrader_config.py, e.g. ``c.Intake.max_upload_bytes = 100 * 2**20``.
    """

    max_upload_bytes = Int(
        50 * MB, help="Largest upload, uncompressed: one file of the LMS download, or the notebook in a student's zip."
    ).tag(config=True)
    max_entries = Int(
        1000, help="Most files in the LMS download, and in one student's zip (the zips inside it included)."
    ).tag(config=True)
    max_total_bytes = Int(
        200 * MB, help="Largest uncompressed total of the LMS download, and of one student's zip (the zips inside it included)."
    ).tag(config=True)
    max_nesting = Int(
        2, help="Archive levels opened inside one upload: 1 = a student's zip, 2 = a zip inside it. Deeper nesting refuses the upload."
    ).tag(config=True)
    max_name_bytes = Int(
        FILE_NAME_BYTES, help="Longest file or folder name in the download, in UTF-8 bytes (what file systems take)."
    ).tag(config=True)


class Refused(Exception):
    """An upload intake will not take; the message is the reason, for the report."""


@dataclass
class FileOutcome:
    file: str  # path inside the archive
    student: str = ""
    outcome: str = ""  # filed, superseded, unfiled
    detail: str = ""


@dataclass
class Upload:
    """One file of the LMS download."""

    name: str  # its path inside the download
    stored: Path  # the upload as it was, under downloaded/<assignment>/extracted/
    source: Path  # what gets filed: `stored`, or the notebook taken out of the student's zip
    note: str = ""
    problem: str = ""  # why it cannot be filed, found while unpacking


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


# --- paths ----------------------------------------------------------------------------------------------------


def checked(path: Path, folder: Path) -> Path:
    """`path`, after making sure that it resolves inside `folder` (symbolic links and '..' followed)."""
    resolved, inside = Path(os.path.abspath(path)).resolve(), Path(os.path.abspath(folder)).resolve()
    if resolved != inside and not resolved.is_relative_to(inside):
        raise Refused(f"it would be written to {resolved}, outside {inside}")
    return path


def fit_name(name: str, limit: int = FILE_NAME_BYTES) -> str:
    """`name`, shortened (keeping its extension, with a digest for uniqueness) to fit `limit` UTF-8 bytes."""
    if len(name.encode("utf-8", "surrogateescape")) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    suffix = Path(name).suffix if len(Path(name).suffix) <= 16 else ""
    tail = f"~{digest}{suffix}"
    head = name[: len(name) - len(suffix)].encode("utf-8", "surrogateescape")[: limit - len(tail.encode())]
    return head.decode("utf-8", "ignore") + tail


def name_problem(name: str, intake: Intake) -> str | None:
    """Why the path `name` from an archive cannot be written as it is, or None."""
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "its name has control characters"
    if "\\" in name:
        return "its name has a backslash"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "its path is absolute"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "its path has an empty, '.' or '..' part: it would be written outside the download's folder"
    longest = max(len(part.encode("utf-8", "surrogatepass")) for part in parts)
    if longest > intake.max_name_bytes:
        return f"its name is {longest} bytes long; the cap is {intake.max_name_bytes} (c.Intake.max_name_bytes)"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"its path is {len(name.encode('utf-8', 'surrogatepass'))} bytes long; at most {MAX_PATH_BYTES} are taken"
    return None


def size(count: int) -> str:
    return f"{count / MB:,.1f} MB" if count >= MB / 10 else f"{count:,} bytes"


# --- archives ----------------------------------------------------------------------------------------------------

UNREADABLE_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError, OSError)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The member's bytes, refusing to decompress past `cap` whatever its central directory entry claims."""
    with archive.open(info) as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"{visible(info.filename)} unpacks to more than {size(cap)}")
    return data


def ignorable(name: str) -> bool:
    """Files that zipping on macOS or in Jupyter adds beside the student's own."""
    parts = name.split("/")
    return "__MACOSX" in parts or ".ipynb_checkpoints" in parts or parts[-1].startswith("._")


def notebook_in_zip(path: Path, intake: Intake) -> tuple[str, bytes]:
    """The one notebook in a student's uploaded zip: its path inside and its bytes. Refused: the reason.

    Reads central directories only (and the zips nested inside, up to `intake.max_nesting` levels) until the
    caps are known to hold; decompresses nothing but those nested zips and the notebook itself.
    """
    totals = {"entries": 0, "bytes": 0}
    found: list[tuple[str, bytes | None]] = []

    def walk(archive: zipfile.ZipFile, level: int, prefix: str) -> None:
        members = archive.infolist()
        totals["entries"] += len(members)
        totals["bytes"] += sum(info.file_size for info in members)
        if totals["entries"] > intake.max_entries:
            raise Refused(f"a zip holding {totals['entries']:,} files or more; the cap is {intake.max_entries:,} (c.Intake.max_entries)")
        if totals["bytes"] > intake.max_total_bytes:
            raise Refused(f"a zip that unpacks to {size(totals['bytes'])} or more; the cap is {size(intake.max_total_bytes)} "
                          "(c.Intake.max_total_bytes)")
        for info in members:
            inner = prefix + info.filename
            if info.is_dir() or ignorable(info.filename):
                continue
            longest = max(len(part.encode("utf-8", "surrogatepass")) for part in info.filename.split("/"))
            if longest > intake.max_name_bytes:
                raise Refused(f"a zip holding a file whose name is {longest} bytes long; the cap is {intake.max_name_bytes} "
                              "(c.Intake.max_name_bytes)")
            lower = info.filename.lower()
            if lower.endswith(".zip"):
                if level + 1 > intake.max_nesting:
                    raise Refused(f"a zip with archives nested {level + 1} deep ({visible(inner)}); intake opens "
                                  f"{intake.max_nesting} level(s) (c.Intake.max_nesting)")
                if info.file_size > intake.max_upload_bytes:
                    raise Refused(f"a zip holding {visible(inner)} of {size(info.file_size)}; the cap is "
                                  f"{size(intake.max_upload_bytes)} (c.Intake.max_upload_bytes)")
                with zipfile.ZipFile(io.BytesIO(read_member(archive, info, intake.max_upload_bytes))) as nested:
                    walk(nested, level + 1, inner + "/")
            elif lower.endswith(".ipynb"):
                if info.file_size > intake.max_upload_bytes:
                    raise Refused(f"a zip holding the notebook {visible(inner)} of {size(info.file_size)}; the cap is "
                                  f"{size(intake.max_upload_bytes)} (c.Intake.max_upload_bytes)")
                found.append((inner, read_member(archive, info, intake.max_upload_bytes) if not found else None))

    try:
        with zipfile.ZipFile(path) as archive:
            walk(archive, 1, "")
    except Refused:
        raise
    except UNREADABLE_ZIP as error:
        raise Refused(f"not a readable zip archive ({type(error).__name__}: {error})") from None
    if not found:
        raise Refused(f"a zip archive with no notebook in it ({totals['entries']} file(s)); ask the student to upload the .ipynb itself")
    if len(found) > 1:
        names = ", ".join(visible(name) for name, _ in found[:3]) + (", …" if len(found) > 3 else "")
        raise Refused(f"a zip archive with {len(found)} notebooks ({names}); ask the student to upload the one notebook")
    [(inner, data)] = found
    return inner, data


def is_archive(name: str, path: Path) -> bool:
    suffix = Path(name).suffix.lower()
    return suffix == ".zip" or (suffix != ".ipynb" and zipfile.is_zipfile(path))


def check_download(archive: Path, members: list[zipfile.ZipInfo], intake: Intake) -> None:
    """Stop before writing anything when the download as a whole is over a cap."""
    if len(members) > intake.max_entries:
        raise CourseError(
            f"{archive.name} holds {len(members):,} files; `course collect` takes at most {intake.max_entries:,} from one "
            "download (c.Intake.max_entries in nbgrader_config.py). Nothing was collected; raise the cap if the download is genuine."
        )
    total = sum(info.file_size for info in members)
    if total > intake.max_total_bytes:
        raise CourseError(
            f"{archive.name} unpacks to {size(total)}; `course collect` takes at most {size(intake.max_total_bytes)} "
            "(c.Intake.max_total_bytes in nbgrader_config.py). Nothing was collected; raise the cap if the download is genuine."
        )


def unpack_download(lms: zipfile.ZipFile, members: list[zipfile.ZipInfo], extracted: Path, unpacked: Path,
                    intake: Intake, notebook_name: str) -> tuple[list[Upload], list[tuple[str, str]]]:
    """Write each upload of the download under `extracted` (as it is) and, for a student's zip, its notebook under
    `unpacked`. Returns the uploads, and (name, reason) for each file that was not written."""
    uploads, refused = [], []
    for info in sorted(members, key=lambda info: info.filename):
        name = info.filename
        problem = name_problem(name, intake)
        if not problem and info.file_size > intake.max_upload_bytes:
            problem = (f"{size(info.file_size)} uncompressed; the cap is {size(intake.max_upload_bytes)} per upload "
                       "(c.Intake.max_upload_bytes)")
        if problem:
            refused.append((name, problem))
            continue
        target = extracted / name
        try:
            checked(target, extracted)
        except Refused as error:
            refused.append((name, str(error)))
            continue
        if target.exists() or target.is_symlink():
            refused.append((name, "a second file of the same name in the download"))
            continue
        created = False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with lms.open(info) as source, open(target, "xb") as sink:
                created = True
                while chunk := source.read(MB):
                    written += len(chunk)
                    if written > intake.max_upload_bytes:
                        raise Refused(f"unpacks to more than {size(intake.max_upload_bytes)} (c.Intake.max_upload_bytes)")
                    sink.write(chunk)
        except (Refused, *UNREADABLE_ZIP) as error:
            if created:
                target.unlink(missing_ok=True)
            problem = str(error) if isinstance(error, Refused) else f"could not be unpacked from the download ({type(error).__name__}: {reason(error)})"
            refused.append((name, problem))
            continue
        upload = Upload(name, target, target)
        if is_archive(name, target):
            try:
                inner, data = notebook_in_zip(target, intake)
                notebook = unpacked / name / f"{notebook_name}.ipynb"
                checked(notebook, unpacked)
                notebook.parent.mkdir(parents=True, exist_ok=True)
                notebook.write_bytes(data)
                upload.source = notebook
                upload.note = f"the notebook {visible(inner)} taken out of the student's zip"
            except Refused as error:
                upload.problem = str(error)
            except OSError as error:
                upload.problem = f"its notebook could not be unpacked ({error.strerror or error})"
        uploads.append(upload)
    return uploads, refused


# --- nbgrader's zip_collect, made safe ------------------------------------------------------------------------------


class LmsFileNameCollector(FileNameCollectorPlugin):
    """Collects LMS export files named `<student>_<lmsid>_<timestamp>_<original name>`.

    Returns the notebook under the assignment's own notebook name whatever the student called it, maps LMS ids
    to student ids when a mapping is given, refuses unsafe student ids, and records why any file is not collected.
    The student is always the one the LMS named for the upload, never one named inside it.
    """

    named_regexp = Unicode(LMS_PATTERN).tag(config=True)
    id_mapping = Dict().tag(config=True)
    notebook_name = Unicode().tag(config=True)
    expected_cells = Unicode(help="JSON list of the grade ids every submission must have").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, FileOutcome] = {}
        self.uploads: dict[str, Upload] = {}  # by the path handed to collect()

    def identify(self, name: str) -> tuple[dict | None, str, str | None]:
        """The LMS fields of an upload's path in the download, the student it belongs to, and why it cannot be filed."""
        match = re.fullmatch(self.named_regexp, Path(name).name)
        if not match:
            return None, "", "file name does not follow <student>_<lmsid>_<timestamp>_<name>"
        info = match.groupdict()
        student = info["student_id"]
        if self.id_mapping:
            if info.get("lms_id") not in self.id_mapping:
                return info, student, f"LMS id {info.get('lms_id')} is not in the id mapping"
            student = self.id_mapping[info["lms_id"]]
        problem = id_problem(student)
        if problem:
            return info, student, f"refused: {problem}"
        return info, student, None

    def _unfiled(self, path: str, reason: str, student: str = "") -> None:
        self.outcomes[path] = FileOutcome(self.uploads[path].name, student, "unfiled", reason)
        return None

    def collect(self, submitted_file: str):
        upload = self.uploads[submitted_file]
        info, student, problem = self.identify(upload.name)
        if problem:
            return self._unfiled(submitted_file, problem, student)
        if upload.problem:
            return self._unfiled(submitted_file, upload.problem, student)
        if upload.source.suffix != ".ipynb":
            return self._unfiled(submitted_file, f"not a notebook ({Path(upload.name).suffix or 'no extension'})", student)
        problem = self._notebook_problem(upload.source)
        if problem:
            return self._unfiled(submitted_file, problem, student)
        try:
            timestamp = parse_lms_timestamp(info["timestamp"])
        except ValueError as error:
            return self._unfiled(submitted_file, str(error), student)
        notes = [upload.note] if upload.note else []
        if Path(info["file_id"]).stem != self.notebook_name:
            notes.append(f"renamed by the student ({info['file_id']})")
        folder = Path(upload.name).parent
        if str(folder) != ".":
            notes.append(f"was in the sub-folder {folder}/")
        self.outcomes[submitted_file] = FileOutcome(upload.name, student, "filed", "; ".join(notes))
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
    """nbgrader's zip_collect, moving aside what it would overwrite or skip instead of losing it, writing only
    inside submitted/<student>/<assignment>/ and downloaded/, and reporting a file it cannot file instead of stopping."""

    superseded_dir = Unicode().tag(config=True)
    archive_copy = Unicode(help="Where the download is kept, for the report").tag(config=True)

    def _collect_files(self, src_files):
        data = super()._collect_files(src_files)
        # zip_collect keeps only the newest upload per student; keep the others aside, and say so
        collector = self.collector_plugin_inst
        chosen = {source for record in data.values() for source in record["src_files"]}
        superseded = Path(self.superseded_dir)
        for source, outcome in collector.outcomes.items():
            if outcome.outcome == "filed" and source not in chosen:
                upload = collector.uploads[source]
                outcome.outcome = "superseded"
                notes = f"; {outcome.detail}" if outcome.detail else ""
                try:
                    target = checked(superseded / outcome.student / fit_name(f"older-upload_{Path(upload.name).name}"), superseded)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(upload.stored, target)
                    outcome.detail = f"an older upload; kept as {target.relative_to(self.coursedir.root)}{notes}"
                except (OSError, Refused) as error:
                    outcome.detail = f"an older upload; not kept aside ({reason(error)}), it is still in {self.archive_copy}{notes}"
        return data

    def _transfer_files(self, collected_data):
        collector = self.collector_plugin_inst
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        for student_id, data in collected_data.items():
            try:
                self._transfer_one(student_id, data, stamp)
            except (OSError, Refused) as error:
                for source in data["src_files"]:
                    outcome = collector.outcomes[source]
                    outcome.outcome = "unfiled"
                    outcome.detail = "; ".join(filter(None, [f"could not be filed: {reason(error)}", outcome.detail]))

    def _transfer_one(self, student_id: str, data: dict, stamp: str) -> None:
        problem = id_problem(student_id)  # the collector refuses these first; never trust it alone with a path
        if problem:
            raise Refused(problem)
        root = Path(self.coursedir.root)
        submitted = root / self.coursedir.submitted_directory
        folder = checked(Path(self.coursedir.format_path(self.coursedir.submitted_directory, student_id, self.coursedir.assignment_id)), submitted)
        if folder.is_dir() and any(folder.iterdir()):
            superseded = Path(self.superseded_dir)
            target = checked(superseded / student_id / f"previously-collected_{stamp}", superseded)
            for number in range(1, 1000):
                if not target.exists():
                    break
                target = target.with_name(f"previously-collected_{stamp}_{number}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), target)
            self.log.warning("Moved the earlier submission of %s to %s", student_id, target)
        folder.mkdir(parents=True, exist_ok=True)
        for source, destination in zip(data["src_files"], data["dest_files"]):
            shutil.copy(source, checked(Path(destination), folder))
        if data["timestamp"] is not None:
            (folder / "timestamp.txt").write_text(data["timestamp"].isoformat(" "))


def reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def release_notebook(root: Path, assignment: str) -> Path:
    notebooks = sorted((root / "release" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise CourseError(f"Expected one released notebook in {root / 'release' / assignment}; run `course release {assignment}`.")
    return notebooks[0]


def fresh_folder(path: Path, downloaded: Path) -> Path:
    """An empty folder at `path`, which must lie inside `downloaded` (no symbolic link may lead out)."""
    try:
        checked(path, downloaded)
    except Refused as error:
        raise CourseError(f"Cannot use {path}: {error}.") from None
    if path.is_symlink():
        raise CourseError(f"{path} is a symbolic link; remove it, `course collect` writes only inside {downloaded}.")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


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
    downloaded = root / "downloaded"
    (downloaded / assignment).mkdir(parents=True, exist_ok=True)
    fresh_folder(downloaded / assignment / "archive", downloaded)
    fresh_folder(downloaded / assignment / "extracted", downloaded)
    kept = downloaded / assignment / "archive" / archive.name
    shutil.copy2(archive, kept)

    api = nbgrader_api(root)
    config = api.config
    intake = Intake(config=config)
    config.ZipCollectApp.collector_plugin = LmsFileNameCollector
    config.ZipCollectApp.superseded_dir = str(downloaded / assignment / "superseded")
    config.ZipCollectApp.archive_copy = str(kept.relative_to(root))
    config.LmsFileNameCollector.id_mapping = read_mapping(mapping) if mapping else {}
    config.LmsFileNameCollector.notebook_name = released.stem
    config.LmsFileNameCollector.expected_cells = json.dumps(expected_cells)
    config.ZipCollectApp.log_level = "ERROR"  # every file's outcome is in the report instead
    app = CourseZipCollect(config=config)
    app.coursedir = CourseDirectory(parent=app)
    app.coursedir.assignment_id = assignment
    app.init_plugins()
    collector = app.collector_plugin_inst

    stem = archive.stem if archive.stem not in ("", ".", "..") else "lms_download"
    extracted = downloaded / assignment / "extracted" / stem
    unpacked = downloaded / assignment / "extracted" / fit_name(f"{stem}.unpacked")
    try:
        with zipfile.ZipFile(archive) as lms:
            members = [info for info in lms.infolist() if not info.is_dir()]
            check_download(archive, members, intake)
            uploads, refused = unpack_download(lms, members, extracted, unpacked, intake, released.stem)
    except zipfile.BadZipFile as error:
        raise CourseError(f"{archive} is not a readable zip archive ({error}): download it from the LMS again.") from None

    outcomes = []
    for name, problem in refused:
        _, student, _ = collector.identify(name)
        outcomes.append(FileOutcome(name, student, "unfiled", f"{problem}; not kept: it is still in {kept.relative_to(root)}"))
    collector.uploads = {str(upload.source): upload for upload in uploads}
    app._transfer_files(app._collect_files(sorted(collector.uploads)))
    outcomes += collector.outcomes.values()

    unfiled_dir = downloaded / assignment / "unfiled"
    for source, outcome in collector.outcomes.items():
        if outcome.outcome == "unfiled":
            upload = collector.uploads[source]
            try:
                target = checked(unfiled_dir / upload.name, unfiled_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(upload.stored, target)
                outcome.detail += f"; kept as {target.relative_to(root)}"
            except (OSError, Refused) as error:
                outcome.detail += f"; not kept ({reason(error)}): it is still in {kept.relative_to(root)}"
    note_lookalikes(outcomes, root / "submitted")
    return sorted(outcomes, key=lambda outcome: (outcome.outcome != "filed", outcome.student, outcome.file))


def note_lookalikes(outcomes: list[FileOutcome], submitted: Path) -> None:
    """Add a note to each filed upload whose student id looks like another one (filed now or already in submitted/)."""
    filed = {outcome.student for outcome in outcomes if outcome.outcome == "filed"}
    existing = set()
    if submitted.is_dir():
        with os.scandir(submitted) as entries:
            existing = {entry.name for entry in entries if entry.is_dir()}
    for first, second in lookalikes(sorted(filed | existing)):
        for outcome in outcomes:
            if outcome.outcome == "filed" and outcome.student in (first, second):
                other = second if outcome.student == first else first
                where = "filed in this collection" if other in filed else "already in submitted/"
                outcome.detail = "; ".join(filter(None, [
                    outcome.detail,
                    f"the student id '{visible(outcome.student)}' looks like '{visible(other)}' ({where}): "
                    "check that they are two different students",
                ]))


def collect_exchange(root: Path, assignment: str) -> None:
    api = nbgrader_api(root)
    result = api.collect(assignment, update=True)
    if not result["success"]:
        raise CourseError(f"nbgrader collect failed for '{assignment}':\n{result['error']}\n{result['log']}")


def id_warnings(submitted: Path, assignment: str) -> list[str]:
    """What is wrong with the student folders of an assignment in submitted/: unsafe ids, and ids that look alike.

    The exchange names folders after JupyterHub user names, which `course collect` does not choose."""
    if not submitted.is_dir():
        return []
    with os.scandir(submitted) as entries:
        names = sorted(entry.name for entry in entries if os.path.isdir(os.path.join(entry.path, assignment)))
    warnings = [f"{problem} `course grade` will not grade it: rename the folder." for problem in map(id_problem, names) if problem]
    warnings += [f"The student ids '{visible(first)}' and '{visible(second)}' look alike: check that they are two different students."
                 for first, second in lookalikes(names)]
    return warnings


def report(outcomes: list[FileOutcome], root: Path, assignment: str, console: Console) -> Path:
    table = Table(title=f"Collected {assignment}")
    for column in ("file in archive", "student", "outcome", "detail"):
        table.add_column(column)
    colours = {"filed": "green", "superseded": "yellow", "unfiled": "red"}
    for outcome in outcomes:  # Text, not markup: a file named "[/]" must print as it is
        table.add_row(Text(visible(outcome.file)), Text(visible(outcome.student) or "?"),
                      Text(outcome.outcome, style=colours[outcome.outcome]), Text(outcome.detail))
    console.print(table)
    path = root / "downloaded" / assignment / "collect_report.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "student", "outcome", "detail"])
        writer.writerows([safe_csv_row((visible(o.file), visible(o.student), o.outcome, o.detail)) for o in outcomes])
    filed = sum(outcome.outcome == "filed" for outcome in outcomes)
    alike = sum("looks like" in outcome.detail for outcome in outcomes if outcome.outcome == "filed")
    console.print(Text(
        f"{filed} notebook(s) filed under submitted/<student>/{assignment}/, "
        f"{sum(o.outcome == 'superseded' for o in outcomes)} older upload(s) kept aside, "
        f"{sum(o.outcome == 'unfiled' for o in outcomes)} file(s) not filed (see the detail column). "
        + (f"{alike} filed student id(s) look like another one: check them. " if alike else "")
        + f"Report: {path.relative_to(root)}. Next: `course grade {assignment}`."
    ))
    return path


def main(assignment: str, archive: Path | None = None, mapping: Path | None = None, exchange: bool = False,
         root: Path | None = None, console: Console | None = None) -> list[FileOutcome]:
    console = console or Console()
    root = course_root(root)
    problem = id_problem(assignment)
    if problem:
        raise CourseError(problem.replace("student id", "assignment name"))
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}.")
    if exchange:
        if archive is not None:
            raise CourseError("Give either an archive or --exchange, not both.")
        collect_exchange(root, assignment)
        console.print(f"Collected {assignment} from the nbgrader exchange into submitted/.")
        for warning in id_warnings(root / "submitted", assignment):
            console.print(Text(f"warning: {warning}", style="yellow"))
        return []
    if archive is None:
        raise CourseError("Give the LMS bulk download (ARCHIVE.zip), or --exchange for a JupyterHub exchange.")
    outcomes = collect_lms(root, assignment, Path(archive), Path(mapping) if mapping else None)
    report(outcomes, root, assignment, console)
    return outcomes

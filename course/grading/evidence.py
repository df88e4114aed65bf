"""What grading keeps of each executed notebook so that its verdicts can be recomputed without running it again.

After a notebook has run, its worker packs the verifier's inputs (the grader's copies of what the harness and the
notebook saved: ``harness/``, ``artifacts/<name>/``) and when each artifact was saved. The coordinator adds the
executed notebook as the worker returned it (before any verdict is put in it) and the run's key, and keeps the
lot as one zip, ``autograded/.evidence/<assignment>/<student>/<notebook>.zip``. Only the coordinator writes there
and no sandbox sees that folder; '.evidence' can be no student's id (course.student_ids).

`course grade --reverify` (course.grading.reverify) runs the current spec's verifier on a stored copy, and puts
the new verdicts in the stored executed notebook, through nbgrader's pipeline as any grade. The run's key is a
hash of everything the kernel and the harness were given (the notebook as sent, the harness's cells and its
plan): when any of it changed, the stored run does not stand for the new one and the notebook is run again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

EVIDENCE_DIR = ".evidence"
INPUTS_PREFIX = "verifier/"  # the verifier's input tree, as it saw it
EXECUTED_NOTEBOOK = "executed.ipynb"
PREDICTIONS_FILE = "predictions.npz"  # the verifier's predictions on the grader's arrays, for --reverify
PREDICTIONS_FIELD = "grader predictions"  # of the verifier's record: taken out by the worker, into PREDICTIONS_FILE
PREDICTIONS_DIR = "predictions"  # of a --reverify batch's inbox: <job>.npz, the PREDICTIONS_FILE of its stored run
RUN_FILE = "run.json"  # the run's key, the submission's digest, when each artifact was saved, what the worker said
MAX_EVIDENCE_BYTES = 100_000_000  # uncompressed, all entries together (an honest run: about 12 MB)
MAX_ENTRIES = 200
RUN_FIELDS = ("stopped", "executed", "sandboxed", "skipped_files")  # of the worker's record: facts of the run itself


class EvidenceProblem(Exception):
    """Stored evidence that cannot stand for a run: missing, unreadable, or of another run. The message says which."""


def run_key(notebook: str, answers: str, harness_plan: dict, kernel_exports: dict, context: str = "") -> str:
    """What the kernel, the harness and the notebook's artifact exports were given, as one hash: of each notebook,
    its cells' kinds, sources and nbgrader metadata (not cell ids, which are made anew for every run), and the
    ``context`` (grading_context)."""
    digest = hashlib.sha256()
    parts = (_cells(notebook), _cells(answers), harness_plan, kernel_exports, context)
    for part in parts:
        digest.update(hashlib.sha256(json.dumps(part, sort_keys=True).encode()).digest())
    return digest.hexdigest()


def _cells(notebook: str) -> list:
    cells = json.loads(notebook).get("cells", [])
    return [[cell.get("cell_type"), _text(cell.get("source", "")), cell.get("metadata", {}).get("nbgrader")] for cell in cells]


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def pack_inputs(verifier_in: Path, errors_before: dict[str, bool], predictions: bytes = b"") -> bytes:
    """The verifier's input tree (regular files only, as the grader copied them), when each artifact was saved, and
    the predictions the verifier made on the grader's arrays (``GraderPredictions.packed``); empty when it cannot be kept whole (more than the caps, a name no zip can hold): that run is then graded again
    in full by --reverify. Packing never changes the grade itself."""
    files = []
    for folder, _, names in os.walk(verifier_in, followlinks=False):
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                files.append(path)
    try:
        if len(files) > MAX_ENTRIES - 3 or sum(path.stat().st_size for path in files) > MAX_EVIDENCE_BYTES:
            return b""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for path in files:
                archive.write(path, INPUTS_PREFIX + path.relative_to(verifier_in).as_posix())
            archive.writestr("errors_before.json", json.dumps(errors_before))
            if predictions:
                archive.writestr(PREDICTIONS_FILE, predictions)
        return buffer.getvalue()
    except (OSError, ValueError, UnicodeError):  # a name student code made that a zip cannot hold, say
        return b""


def grading_context(config: dict) -> str:
    """What else shapes a run besides its cells: the settings of the kernel, the harness and the sandbox, and the
    code on their side (course.sandboxed, course.student, the kernel's runner). A stored run made under others
    does not stand for a new one (an instructor who raised a timeout gets the notebooks run again)."""
    from . import kernel_run

    digest = hashlib.sha256()
    sections = {name: dict(config.get(name, {})) for name in CONTEXT_SETTINGS}
    digest.update(json.dumps(sections, sort_keys=True, default=str).encode())
    package = Path(kernel_run.__file__).resolve().parents[1]
    for path in sorted([*package.glob("sandboxed/*.py"), *package.glob("student/*.py"), Path(kernel_run.__file__)]):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


CONTEXT_SETTINGS = ("Execute", "ResilientExecute", "Verification", "Sandbox")


def path_for(root: Path, assignment: str, student: str, notebook_name: str) -> Path:
    return root / "autograded" / EVIDENCE_DIR / assignment / student / f"{Path(notebook_name).stem}.zip"


def store(path: Path, inputs: bytes, executed_notebook: str, run: dict) -> None:
    """The worker's packed inputs, plus the executed notebook and the run; written whole or not at all."""
    buffer = io.BytesIO(inputs)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(EXECUTED_NOTEBOOK, executed_notebook)
        # what every other entry must hash to: an entry lost or changed since is found, not verified as missing
        manifest = {entry.filename: _sha256(archive, entry) for entry in archive.infolist()}
        archive.writestr(RUN_FILE, json.dumps({**run, "files": manifest}))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, path)


@dataclass
class Evidence:
    """One stored run, read back and checked whole."""

    path: Path
    run: dict
    executed_notebook: str
    errors_before: dict[str, bool]
    predictions: bytes = b""  # GraderPredictions.packed of its grade, when it kept them

    def extract_inputs(self, target: Path) -> None:
        """The verifier's input tree, recreated under ``target`` (names checked: nothing lands outside it), each
        file checked against the manifest as it is written (EvidenceProblem: it changed since it was stored)."""
        manifest = self.run["files"]
        with zipfile.ZipFile(self.path) as archive:
            for entry in archive.infolist():
                if not entry.filename.startswith(INPUTS_PREFIX) or entry.is_dir():
                    continue
                relative = _safe_relative(entry.filename[len(INPUTS_PREFIX):], self.path)
                destination = target.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with archive.open(entry) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        sink.write(chunk)
                if digest.hexdigest() != manifest.get(entry.filename):
                    raise EvidenceProblem(f"{self.path} is corrupt ({entry.filename} changed since it was stored)")


def _sha256(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    with archive.open(entry) as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or any(part in ("", ".", "..") for part in relative.parts) or "\\" in name or "\0" in name:
        raise EvidenceProblem(f"{archive} holds an entry named {name[:100]!r}, which no grader writes")
    return relative


def read(path: Path) -> Evidence:
    """The evidence at ``path``, or EvidenceProblem saying why it cannot be used (its verifier inputs: when they
    are extracted)."""
    if not path.is_file():
        raise EvidenceProblem(f"no stored run at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES or sum(entry.file_size for entry in entries) > MAX_EVIDENCE_BYTES:
                raise EvidenceProblem(f"{path} is larger than any stored run")
            for entry in entries:
                if entry.filename.startswith(INPUTS_PREFIX):
                    _safe_relative(entry.filename[len(INPUTS_PREFIX):], path)
            run = json.loads(archive.read(RUN_FILE))
            manifest = run.get("files") if isinstance(run, dict) else None
            present = {entry.filename: entry for entry in entries if entry.filename != RUN_FILE}
            if not isinstance(manifest, dict) or set(manifest) != set(present):
                missing = sorted(set(manifest or {}) - set(present))
                raise EvidenceProblem(f"{path} is incomplete" + (f" ({', '.join(missing[:3])} missing)" if missing else ""))
            for name, entry in present.items():  # the verifier's inputs are checked as they are extracted
                if not name.startswith(INPUTS_PREFIX) and _sha256(archive, entry) != manifest[name]:
                    raise EvidenceProblem(f"{path} is corrupt ({name} changed since it was stored)")
            executed = archive.read(EXECUTED_NOTEBOOK).decode()
            errors_before = json.loads(archive.read("errors_before.json"))
            predictions = archive.read(PREDICTIONS_FILE) if PREDICTIONS_FILE in present else b""
    except EvidenceProblem:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise EvidenceProblem(f"{path} cannot be read ({type(error).__name__}: {str(error)[:200]})") from None
    if not isinstance(run, dict) or not isinstance(run.get("key"), str) or not isinstance(errors_before, dict):
        raise EvidenceProblem(f"{path} is not a stored run of this grader")
    return Evidence(path, run, executed, {str(name): bool(value) for name, value in errors_before.items()}, predictions)

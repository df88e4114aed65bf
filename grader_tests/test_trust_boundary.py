"""The trust boundary, attacked as a determined student would attack it.

Unit tests (fast, nothing trains), one per principle: files a student could have made are read without following
a link, blocking on a FIFO or reading past a cap; only the notebook crosses into grading; a sandboxed process sees
only its allow-list (no grading code, no $HOME, no course, no outer socket, no network, no capability) and imports
nothing from its working folder; the verdicts from outside the kernel stand, and every disagreement or failure to
verify is flagged where the instructor looks.

Then (slow) the fixture submissions of grader_tests/build_submissions.py that attack the boundary, graded in one
`course grade` run beside their honest twins: an attack never scores more than its twin.
"""

from __future__ import annotations

import csv
import hashlib
import html.parser
import json
import os
import re
import shutil
import socket
import stat
import sys
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from conftest import ASSIGNMENT, EXPECTED, ROOT, assert_golden, cell_scores, make_course, run_course, submit
from course.grading import untrusted_files
from course.grading.exceptions import SubmissionRefused
from course.grading.preprocessors import NOT_VERIFIED, VERIFICATION_FAILED, VERIFICATION_FILE, ExecuteOnWorker, apply_verdicts
from course.spec import load as load_spec
from course.grading.sandbox import Limits, PackageView, Sandbox, SandboxedProcess, SandboxSettings, _python_dirs, find_bwrap, package_dir

HIDDEN_CHECKS = package_dir() / "assignments" / ASSIGNMENT / "hidden_checks.py"
THRESHOLDS = package_dir() / "assignments" / ASSIGNMENT / "__init__.py"  # the spec, with the thresholds
SOURCE_NOTEBOOK = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASED_NOTEBOOK = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def finishes(function, seconds: float = 10.0, unblock=None):
    """The result of ``function()`` (or the exception it raised), failing the test if it takes longer than
    ``seconds`` (a read blocked on a FIFO, a file read to its end); ``unblock`` then frees the stuck thread."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(function)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        if unblock is not None:
            unblock()
        pytest.fail(f"{function} was still running after {seconds} s: it blocked on, or read through, what it should have refused")
    finally:
        pool.shutdown(wait=False)


def unblock_fifo(path: Path):
    def unblock():
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    return unblock


def tree_state(*tops: Path) -> dict[str, str]:
    """Every entry under ``tops`` (links not followed): its content hash, its link target, or "dir"."""
    state = {}
    for top in tops:
        if top.is_symlink() or top.is_file():
            entries = [top]
        else:
            entries = [Path(folder) / name for folder, dirs, files in os.walk(top) for name in dirs + files]
        for path in entries:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                state[str(path)] = f"link -> {os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                state[str(path)] = "dir"
            elif stat.S_ISREG(info.st_mode):
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[str(path)] = "special"
    return state


# --- reading files a student could have made ------------------------------------------------------------------


def test_read_regular_refuses_a_symbolic_link(tmp_path):
    (tmp_path / "target.txt").write_text("secret")
    (tmp_path / "link.txt").symlink_to(tmp_path / "target.txt")
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        untrusted_files.read_regular_path(tmp_path / "link.txt", 1000)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(SubmissionRefused, match="symbolic link"):
            untrusted_files.read_regular("link.txt", 1000, dir_fd=fd)
    finally:
        os.close(fd)


def test_read_regular_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "notebook.ipynb"
    os.mkfifo(fifo)
    outcome = finishes(lambda: _raised(lambda: untrusted_files.read_regular_path(fifo, 1000)), unblock=unblock_fifo(fifo))
    assert isinstance(outcome, SubmissionRefused) and "FIFO" in str(outcome)


def _raised(function):
    try:
        function()
    except Exception as error:  # noqa: BLE001 - the test looks at which
        return error
    return None


def test_read_regular_refuses_an_oversize_file_a_device_and_a_folder(tmp_path):
    (tmp_path / "big.ipynb").write_bytes(b"x" * 1001)
    with pytest.raises(SubmissionRefused, match="limit is 1,000"):
        untrusted_files.read_regular_path(tmp_path / "big.ipynb", 1000)
    assert untrusted_files.read_regular_path(tmp_path / "big.ipynb", 1001) == b"x" * 1001
    sparse = tmp_path / "sparse.ipynb"  # 64 GiB that take no disk: only a read to the end would notice
    with open(sparse, "wb") as handle:
        handle.truncate(64 * 2**30)
    outcome = finishes(lambda: _raised(lambda: untrusted_files.read_regular_path(sparse, 1000)), seconds=5)
    assert isinstance(outcome, SubmissionRefused)
    with pytest.raises(SubmissionRefused, match="device"):
        untrusted_files.read_regular_path(Path("/dev/zero"), 1000)
    (tmp_path / "folder.ipynb").mkdir()
    with pytest.raises(SubmissionRefused, match="folder"):
        untrusted_files.read_regular_path(tmp_path / "folder.ipynb", 1000)


def make_hostile_tree(source: Path, outside: Path) -> None:
    """A folder as a sandboxed process could leave it: regular files, links out of it, a FIFO."""
    outside.mkdir()
    (outside / "secret.txt").write_text("the grading machine's secret")
    source.mkdir(parents=True)
    (source / "results.json").write_text("{}")
    (source / "sub").mkdir()
    (source / "sub" / "model.keras").write_bytes(b"PK")
    (source / "linked.json").symlink_to(outside / "secret.txt")
    (source / "sub" / "passwd").symlink_to("/etc/passwd")
    (source / "linked_folder").symlink_to(outside)
    (source / "relative").symlink_to("../outside/secret.txt")
    os.mkfifo(source / "fifo.json")


def test_copy_tree_copies_regular_files_only_and_never_writes_outside_its_target(tmp_path):
    make_hostile_tree(tmp_path / "source", tmp_path / "outside")
    before = tree_state(tmp_path / "outside", Path("/etc/passwd"))
    report = finishes(lambda: untrusted_files.copy_tree(tmp_path / "source", tmp_path / "target"), unblock=unblock_fifo(tmp_path / "source" / "fifo.json"))
    copied = {str(path.relative_to(tmp_path / "target")) for path in (tmp_path / "target").rglob("*") if path.is_file()}
    assert copied == {"results.json", "sub/model.keras"}
    assert not any(path.is_symlink() for path in (tmp_path / "target").rglob("*"))
    assert {entry.split(":")[0] for entry in report.skipped} == {"fifo.json", "linked.json", "linked_folder", "relative", "sub/passwd"}
    assert tree_state(tmp_path / "outside", Path("/etc/passwd")) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside", "source", "target"]


def test_copy_tree_stops_at_its_caps(tmp_path):
    (tmp_path / "source").mkdir()
    for number in range(12):
        (tmp_path / "source" / f"{number:02d}.bin").write_bytes(b"x" * 100)
    report = untrusted_files.copy_tree(tmp_path / "source", tmp_path / "target", max_files=10, max_bytes=550)
    assert report.files == 5 and report.bytes == 500
    assert len(report.skipped) == 7


def test_copy_tree_follows_no_link_anywhere_in_the_folder_it_is_given(tmp_path):
    """The grader copies <kernel workdir>/.artifacts/trained for the verifier; the kernel made .artifacts, and can
    make it a link to any folder of the grading machine that has a trained/ in it."""
    outside = tmp_path / "grading-machine"
    (outside / "trained").mkdir(parents=True)
    (outside / "trained" / "values.json").write_text(json.dumps({"problems": ["the grading machine's file"]}))
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / ".artifacts").symlink_to(outside)
    report = untrusted_files.copy_tree(workdir, tmp_path / "verifier-in", ".artifacts/trained")
    copied = [path for path in (tmp_path / "verifier-in").rglob("*") if path.is_file()]
    assert report.skipped and "symbolic link" in report.skipped[0]
    assert copied == [] and report.files == 0, (
        f"copy_tree followed the link {workdir / '.artifacts'} -> {outside} and copied {copied}"
    )


# --- only the notebook crosses in -------------------------------------------------------------------------------


def course_with_submission(tmp_path: Path, student: str = "s001") -> tuple[Path, Path]:
    root = tmp_path / "course"
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text("{\"the\": \"solutions\"}")
    (folder / f"{ASSIGNMENT}.ipynb").write_text("{\"the\": \"answers\"}")
    return root, folder


def stage(root: Path, student: str = "s001", staging: Path | None = None):
    from course.grade import stage_submission

    return stage_submission(root, ASSIGNMENT, student, [f"{ASSIGNMENT}.ipynb"], staging)


def test_stage_submission_refuses_a_linked_notebook_naming_the_link(tmp_path):
    root, folder = course_with_submission(tmp_path)
    (folder / f"{ASSIGNMENT}.ipynb").unlink()
    (folder / f"{ASSIGNMENT}.ipynb").symlink_to(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    with pytest.raises(SubmissionRefused) as refused:
        stage(root, staging=tmp_path / "staging")
    assert f"submitted/s001/{ASSIGNMENT}/{ASSIGNMENT}.ipynb is a symbolic link" in str(refused.value)
    assert not (tmp_path / "staging").exists()


@pytest.mark.parametrize("linked", ["student", "assignment", "submitted"])
def test_stage_submission_refuses_a_linked_folder(tmp_path, linked):
    root, folder = course_with_submission(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    target = {"student": folder.parent, "assignment": folder, "submitted": root / "submitted"}[linked]
    target.rename(elsewhere)
    target.symlink_to(elsewhere)
    with pytest.raises(SubmissionRefused, match="symbolic link, not a folder"):
        stage(root, staging=tmp_path / "staging")


def test_stage_submission_refuses_a_fifo_notebook_without_blocking(tmp_path):
    root, folder = course_with_submission(tmp_path)
    (folder / f"{ASSIGNMENT}.ipynb").unlink()
    os.mkfifo(folder / f"{ASSIGNMENT}.ipynb")
    outcome = finishes(lambda: _raised(lambda: stage(root)), unblock=unblock_fifo(folder / f"{ASSIGNMENT}.ipynb"))
    assert isinstance(outcome, SubmissionRefused) and "FIFO" in str(outcome)


def test_stage_submission_reads_nothing_but_the_notebook(tmp_path):
    root, folder = course_with_submission(tmp_path)
    os.mkfifo(folder / "notes.txt")  # reading it would block for ever
    with open(folder / "data.npz", "wb") as handle:  # reading it would take minutes
        handle.truncate(64 * 2**30)
    (folder / "course").mkdir()
    (folder / "course" / "__init__.py").write_text("raise SystemExit('imported')")
    (folder / "sitecustomize.py").write_text("raise SystemExit('imported')")
    (folder / "other.ipynb").symlink_to(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / "timestamp.txt").symlink_to("/etc/passwd")
    staged = finishes(lambda: stage(root, staging=tmp_path / "staging"), unblock=unblock_fifo(folder / "notes.txt"))
    files = sorted(str(path.relative_to(tmp_path / "staging")) for path in (tmp_path / "staging").rglob("*"))
    assert files == ["s001", f"s001/{ASSIGNMENT}", f"s001/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"]
    assert (tmp_path / "staging" / "s001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text() == "{\"the\": \"answers\"}"
    notes = " ".join(staged.notes)
    assert "timestamp.txt ignored" in notes and "symbolic link" in notes
    assert "only the notebook is graded; left alone: course, data.npz, notes.txt, other.ipynb, sitecustomize.py" in notes


# --- the sandbox: an allow-list ---------------------------------------------------------------------------------


PROBE = r'''
import json, os, socket, sys

settings = json.loads(sys.argv[1])
facts = {}


def attempt(name, function):
    try:
        facts[name] = {"ok": function()}
    except BaseException as error:
        facts[name] = {"error": type(error).__name__, "detail": str(error)[:300]}


def read(path):
    with open(path, "rb") as handle:
        return handle.read(200).decode(errors="replace")


def write(path):
    with open(path, "w") as handle:
        handle.write("written from the sandbox")
    return "written"


def connect_unix(address):
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(3)
        client.connect(address)
        client.sendall(b"from the sandbox")
    return "connected"


def connect_tcp(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as client:
        client.sendall(b"from the sandbox")
    return "connected"


def status():
    fields = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    return {key: fields[key].strip() for key in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs") if key in fields}


def processes():
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found[pid] = read(f"/proc/{pid}/cmdline").replace("\0", " ")
            except OSError:
                pass
    return found


attempt("import course.student.checks", lambda: bool(__import__("course.student.checks")))
attempt("import course.sandboxed.harness", lambda: bool(__import__("course.sandboxed.harness")))
attempt("import course.grading", lambda: bool(__import__("course.grading")))
attempt("import course.assignments", lambda: bool(__import__("course.assignments")))
attempt("import course.assignments.mnist_cnn.hidden_checks", lambda: bool(__import__("course.assignments.mnist_cnn.hidden_checks")))
attempt("import course.spec", lambda: bool(__import__("course.spec")))
for path in settings["unreadable"]:
    attempt(f"read {path}", lambda path=path: read(path))
for path in settings["absent"]:
    attempt(f"lstat {path}", lambda path=path: str(os.lstat(path)))
for path in settings["unwritable"]:
    attempt(f"write {path}", lambda path=path: write(path))
attempt("list home", lambda: sorted(os.listdir(settings["home"])))
attempt("HOME", lambda: os.environ.get("HOME"))
attempt("environment", lambda: sorted(os.environ))
attempt("uid", os.getuid)
attempt("gid", os.getgid)
attempt("status", status)
attempt("unix socket", lambda: connect_unix(settings["unix_socket"]))
attempt("abstract socket", lambda: connect_unix("\0" + settings["abstract_socket"]))
attempt("tcp", lambda: connect_tcp(settings["tcp_port"]))
attempt("interfaces", lambda: sorted(name for _, name in socket.if_nameindex()))
attempt("processes", processes)
attempt("mnist", lambda: os.path.getsize("/data/mnist.npz"))
attempt("write mnist", lambda: write("/data/mnist.npz"))
attempt("write escape", lambda: write(settings["escape"]))
attempt("write workdir", lambda: write("written.txt"))
sys.stdout.write(json.dumps(facts))
sys.stdout.flush()
os._exit(0)  # before cProfile, which runs this script, prints its statistics
'''


class Servers:
    """A Unix socket (by path and in the abstract namespace) and a loopback TCP port, outside any sandbox, that
    record whatever reaches them."""

    def __init__(self, folder: Path):
        self.received: list[bytes] = []
        self.unix_path = str(folder / "outer.sock")
        self.abstract = f"course-trust-boundary-{uuid.uuid4().hex}"
        self.servers = []
        for family, address in ((socket.AF_UNIX, self.unix_path), (socket.AF_UNIX, "\0" + self.abstract), (socket.AF_INET, ("127.0.0.1", 0))):
            server = socket.socket(family)
            server.bind(address)
            server.listen()
            server.settimeout(0.2)
            self.servers.append(server)
        self.tcp_port = self.servers[-1].getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            for server in self.servers:
                try:
                    connection, _ = server.accept()
                except OSError:
                    continue
                with connection:
                    self.received.append(connection.recv(1024) or b"(connected)")

    def close(self):
        self.stopped.set()
        self.thread.join()
        for server in self.servers:
            server.close()


def sandbox_settings(mnist_file: str | None = None) -> SandboxSettings:
    limits = Limits.of(Sandbox())
    return SandboxSettings(limits, find_bwrap(Sandbox().bwrap), mnist_file)


def home_entries_beyond_python() -> list[Path]:
    """What $HOME holds that is not (a folder above) the Python installation that grading runs, which is bound."""
    home = Path.home()
    kept = {parent for path in _python_dirs() for parent in (path, *path.parents)}
    return [entry for entry in home.iterdir() if entry not in kept]


@pytest.fixture(scope="module")
def probed(tmp_path_factory, mnist_path):
    """One sandboxed process, as the kernel and the harness are started, reporting what it can see and do."""
    folder = tmp_path_factory.mktemp("sandbox-probe")
    course_root = folder / "course"
    (course_root / "source").mkdir(parents=True)
    (course_root / "gradebook.db").write_text("grades")
    workdir = folder / "work"
    workdir.mkdir()
    script = workdir / "probe.py"
    script.write_text(PROBE)
    servers = Servers(folder)
    site_packages = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    settings = {
        "unreadable": [str(HIDDEN_CHECKS), str(THRESHOLDS), str(package_dir() / "grading" / "__init__.py"),
                       str(course_root / "gradebook.db"), str(SOURCE_NOTEBOOK), str(ROOT / "nbgrader_config.py"),
                       "/etc/shadow", "/etc/passwd", "/etc/hostname", str(Path.home() / ".bashrc")],
        "absent": [str(course_root), str(ROOT / "source"), str(ROOT / ".git"), str(package_dir() / "grading"), str(package_dir() / "assignments"),
                   str(package_dir() / "__pycache__"), "/run", "/var/run/docker.sock", "/home",
                   *map(str, home_entries_beyond_python())],
        "unwritable": [str(site_packages / "course_trust_boundary.pth"), str(package_dir() / "student" / "checks.py"),
                       str(package_dir() / "sandboxed" / "evil.py"), str(Path(sys.base_prefix) / "evil.txt"), "/usr/evil.txt"],
        "home": str(Path.home()),
        "unix_socket": servers.unix_path,
        "abstract_socket": servers.abstract,
        "tcp_port": servers.tcp_port,
        "escape": str(folder / "escaped.txt"),
    }
    mnist_before = hashlib.sha256(mnist_path.read_bytes()).hexdigest()
    checks_before = hashlib.sha256((package_dir() / "student" / "checks.py").read_bytes()).hexdigest()
    process = SandboxedProcess(sandbox_settings(str(mnist_path)), ["cProfile", str(script), json.dumps(settings)], workdir,
                               PackageView.BESIDE_STUDENT_CODE, timeout=120)
    status, output = process.wait()
    time.sleep(0.5)
    servers.close()
    assert status == 0, f"the probe exited {status}: {output[-2000:]!r}"
    return SimpleNamespace(facts=json.loads(output), settings=settings, servers=servers, folder=folder,
                           workdir=workdir, mnist_unchanged=hashlib.sha256(mnist_path.read_bytes()).hexdigest() == mnist_before,
                           checks_unchanged=hashlib.sha256((package_dir() / "student" / "checks.py").read_bytes()).hexdigest() == checks_before)


def test_sandbox_sees_the_student_modules_and_no_grading_code(probed):
    facts = probed.facts
    assert facts["import course.student.checks"] == {"ok": True}  # the allow-list lets in what a student notebook needs
    assert facts["import course.sandboxed.harness"] == {"ok": True}
    for module in ("course.grading", "course.assignments", "course.assignments.mnist_cnn.hidden_checks", "course.spec"):
        assert facts[f"import {module}"]["error"] == "ModuleNotFoundError", facts[f"import {module}"]
    for path in (HIDDEN_CHECKS, THRESHOLDS, package_dir() / "grading" / "__init__.py"):
        assert facts[f"read {path}"]["error"] == "FileNotFoundError", facts[f"read {path}"]
    for path in (package_dir() / "grading", package_dir() / "assignments", package_dir() / "__pycache__"):
        assert facts[f"lstat {path}"]["error"] == "FileNotFoundError"


def test_sandbox_sees_no_home_no_course_and_no_secrets_of_etc(probed):
    facts = probed.facts
    assert facts["HOME"] == {"ok": "/tmp"}
    assert facts["environment"]["ok"] == sorted(facts["environment"]["ok"])  # read, and:
    assert not {"USER", "LOGNAME", "SSH_AUTH_SOCK", "PYTHONPATH", "VIRTUAL_ENV"} & set(facts["environment"]["ok"])
    for path in probed.settings["absent"]:
        assert facts[f"lstat {path}"]["error"] == "FileNotFoundError", f"{path} is visible in the sandbox: {facts[f'lstat {path}']}"
    for path in probed.settings["unreadable"]:
        assert "error" in facts[f"read {path}"], f"{path} is readable in the sandbox"
    if "ok" in facts["list home"]:  # only the folders leading to the Python installation
        kept = {parent.name for path in _python_dirs() for parent in (path, *path.parents) if parent.parent == Path.home()}
        assert set(facts["list home"]["ok"]) <= kept


def test_sandbox_runs_as_nobody_without_capabilities(probed):
    facts = probed.facts
    assert facts["uid"] == {"ok": 65534} and facts["gid"] == {"ok": 65534}
    status = facts["status"]["ok"]
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, f"{capabilities} is {status[capabilities]} in the sandbox"
    processes = facts["processes"]["ok"]  # its own PID namespace: bwrap as process 1, and the probe
    assert sorted(processes) == ["1", "2"], processes
    assert processes["1"].startswith(find_bwrap(Sandbox().bwrap)) and " -I -m cProfile " in processes["2"]


def test_sandbox_reaches_no_socket_and_no_network(probed):
    facts = probed.facts
    assert facts["unix socket"]["error"] in ("FileNotFoundError", "ConnectionRefusedError")
    assert facts["abstract socket"]["error"] in ("ConnectionRefusedError", "FileNotFoundError")
    assert facts["tcp"]["error"] in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert facts["interfaces"]["ok"] == ["lo"]
    assert probed.servers.received == []


def test_sandbox_writes_only_its_working_folder(probed):
    facts = probed.facts
    assert facts["mnist"]["ok"] > 10_000_000  # the real MNIST is there, at /data/mnist.npz ...
    assert "error" in facts["write mnist"] and probed.mnist_unchanged  # ... read-only
    for path in probed.settings["unwritable"]:
        assert "error" in facts[f"write {path}"], f"the sandbox wrote {path}"
        assert path.endswith("checks.py") or not Path(path).exists(), f"the sandbox left {path}"
    assert probed.checks_unchanged
    assert not Path(probed.settings["escape"]).exists()  # whatever it wrote beside its folder stayed in the sandbox
    assert facts["write workdir"] == {"ok": "written"} and (probed.workdir / "written.txt").is_file()


def test_the_verifier_view_is_the_only_one_with_the_grading_code(tmp_path):
    """The positive control: the same probe with the verifier's view imports the hidden checks."""
    script = tmp_path / "probe.py"
    script.write_text("import sys, course.assignments.mnist_cnn.hidden_checks, course.spec\nsys.stdout.write('imported')\nsys.stdout.flush()\nimport os; os._exit(0)\n")
    status, output = SandboxedProcess(sandbox_settings(), ["cProfile", str(script)], tmp_path, PackageView.GRADER, timeout=60).wait()
    assert (status, output) == (0, b"imported")


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "sandboxing off"])
def test_grading_processes_ask_numpy_for_no_huge_pages(tmp_path, sandboxed):
    """Huge pages cost a grading process seconds of compaction here (sandbox.NUMPY_ENV), sandboxed or not."""
    script = tmp_path / "probe.py"
    script.write_text("import sys\nfrom numpy._core import multiarray\nsys.stdout.write(str(multiarray._get_madvise_hugepage()))\n"
                      "sys.stdout.flush()\nimport os; os._exit(0)\n")
    settings = sandbox_settings() if sandboxed else SandboxSettings(Limits.of(Sandbox()), None, None)
    status, output = SandboxedProcess(settings, ["cProfile", str(script)], tmp_path, PackageView.STUDENT, timeout=60).wait()
    assert (status, output) == (0, b"False")


@pytest.mark.parametrize("font_list", [True, False], ids=["the grader's font list", "none"])
def test_sandboxed_matplotlib_reads_the_graders_font_list_instead_of_making_one(tmp_path, font_list):
    """Making it in a kernel that has loaded TensorFlow cost 0.7-0.85 CPU-s and 144,000 page faults."""
    script = tmp_path / "probe.py"
    script.write_text("import logging, sys\nlogging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
                      "from matplotlib import font_manager\nsys.stdout.write(str(len(font_manager.fontManager.ttflist)))\n"
                      "sys.stdout.flush()\nimport os; os._exit(0)\n")
    settings = SandboxSettings.from_config(Sandbox(), None)
    if not font_list:
        settings.font_list = ""
    status, output = SandboxedProcess(settings, ["cProfile", str(script)], tmp_path, PackageView.STUDENT, timeout=60).wait()
    assert status == 0 and int(output.decode().splitlines()[-1]) > 0  # fonts found either way
    assert ("generated new fontManager" in output.decode()) is not font_list


def test_nothing_in_the_working_folder_is_imported_by_the_harness(tmp_path, mnist_path):
    """`python -I -m course.sandboxed.harness` in a folder holding a `course` package, sitecustomize and numpy."""
    marker = "imported from the working folder"
    shadow = f"open({str(tmp_path / 'work' / 'IMPORTED')!r}, 'a').write(__name__ + '\\n')\nprint({marker!r})\n"
    workdir = tmp_path / "work"
    for name in ("course/__init__.py", "course/sandboxed/__init__.py", "course/sandboxed/harness.py", "course/student/checks.py",
                 "sitecustomize.py", "usercustomize.py", "numpy.py", "json.py", "keras.py"):
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(shadow)
    answers = tmp_path / "in" / "answers.ipynb"
    answers.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(
        "def scale_mnist_data(train_images, test_images):\n    return train_images / 255.0, test_images / 255.0",
        metadata={"nbgrader": {"grade_id": "scale_mnist_data"}})]), answers)
    plan = answers.parent / "plan.json"
    plan.write_text(json.dumps(load_spec(ASSIGNMENT).harness_plan()))
    status, output = SandboxedProcess(sandbox_settings(str(mnist_path)), ["course.sandboxed.harness", str(answers), str(plan), str(workdir)],
                                      workdir, PackageView.BESIDE_STUDENT_CODE, timeout=120, readable=(answers.parent,)).wait()
    assert status == 0 and marker.encode() not in output
    assert not (workdir / "IMPORTED").exists(), (workdir / "IMPORTED").read_text()
    results = json.loads((workdir / "results.json").read_text())
    assert results["scale_mnist_data"] == {"type": "arrays", "file": "scale_mnist_data.npz", "container": "tuple", "count": 2}  # the real harness ran
    assert "not defined" in results["get_model"]["error"]


# --- the verdicts come from outside the kernel ------------------------------------------------------------------


def graded_cell(grade_id: str, kernel_passed: bool):
    cell = new_code_cell(f"# {grade_id}")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": grade_id, "schema_version": 3}
    cell.outputs = [] if kernel_passed else [new_output("error", ename="CheckFailed", evalue="no", traceback=["no"])]
    return cell




def grades(nb) -> dict[str, float]:
    return {cell.metadata["nbgrader"]["grade_id"]: determine_grade(cell)[0] for cell in nb.cells}


def test_apply_verdicts_flags_disagreements_both_ways_and_the_outside_verdict_stands():
    nb = new_notebook(cells=[graded_cell("faked_pass", True), graded_cell("kernel_failed", False), graded_cell("agreed", True)])
    record = {"verdicts": {"faked_pass": {"passed": False, "message": "Conv2D has 16 filters"},
                           "kernel_failed": {"passed": True, "message": ""},
                           "agreed": {"passed": True, "message": ""}},
              "executed": ["faked_pass", "kernel_failed", "agreed"]}
    summary = apply_verdicts(nb, record, hidden_cells=set())
    assert grades(nb) == {"faked_pass": 0, "kernel_failed": 1, "agreed": 1}
    assert nb.cells[0].outputs[0].ename == VERIFICATION_FAILED and "16 filters" in nb.cells[0].outputs[0].evalue
    assert {(item["cell"], item["kernel"], item["trusted"]) for item in summary["disagreements"]} == {
        ("faked_pass", True, False), ("kernel_failed", False, True)}
    reasons = {flag["cell"]: flag["reason"] for flag in summary["flags"]}
    assert reasons == {"faked_pass": "passed in the kernel, failed outside it", "kernel_failed": "failed in the kernel, passed outside it"}


def test_apply_verdicts_gives_no_point_to_a_hidden_test_without_a_verdict():
    nb = new_notebook(cells=[graded_cell("visible", True), graded_cell("hidden_judged", True), graded_cell("hidden_unjudged", True)])
    summary = apply_verdicts(nb, {"verdicts": {"visible": {"passed": True}, "hidden_judged": {"passed": True, "flag": "steps differ"}}},
                             hidden_cells={1, 2})
    assert grades(nb) == {"visible": 1, "hidden_judged": 1, "hidden_unjudged": 0}
    assert nb.cells[2].outputs[0].ename == NOT_VERIFIED
    reasons = {flag["cell"]: flag["reason"] for flag in summary["flags"]}
    assert reasons["hidden_unjudged"].startswith("hidden test not verified") and reasons["hidden_judged"] == "steps differ"


def test_apply_verdicts_marks_could_not_verify():
    nb = new_notebook(cells=[graded_cell("visible", True), graded_cell("hidden", True)])
    summary = apply_verdicts(nb, {"verdicts": {}, "error": "the verifier stopped (exit status -9) without a verdict"}, hidden_cells={1})
    assert summary["could_not_verify"] == "the verifier stopped (exit status -9) without a verdict"
    assert any(flag["cell"] is None and flag["reason"].startswith("could not verify") for flag in summary["flags"])
    assert grades(nb)["hidden"] == 0 and "could not verify" in nb.cells[1].outputs[0].evalue


def test_apply_verdicts_believes_no_verdict_of_the_wrong_shape():
    nb = new_notebook(cells=[graded_cell("a", False), graded_cell("b", True)])
    apply_verdicts(nb, {"verdicts": {"a": "passed", "b": ["passed"]}}, hidden_cells={0, 1})
    assert grades(nb) == {"a": 0, "b": 0}


def test_every_flag_reaches_the_export(tmp_path):
    """`course export` (and `course report`, which reads the same table) is where an instructor sees flags: a
    hidden test cross-check that failed, or a notebook that could not be verified, must be there, not only in
    verification.json and `course grade`'s console."""
    from course.export import flags as export_flags

    autograded = tmp_path / "autograded" / "s001" / ASSIGNMENT
    autograded.mkdir(parents=True)
    for flag in ({"cell": "test_train_epochs", "reason": "the model your notebook trained took 5625 training steps, but ..."},
                 {"cell": "test_evaluate_accuracy", "reason": "hidden test not verified: no verdict from the grader"},
                 {"cell": None, "reason": "could not verify: the verifier stopped (exit status 0) without a verdict"}):
        (autograded / VERIFICATION_FILE).write_text(json.dumps({"flags": [flag], "disagreements": [], "stopped": None}))
        assert export_flags(autograded) != "", f"the export's flags column is empty for a submission flagged {flag}"


def test_the_verifier_answer_stays_bounded_whatever_the_notebook_saved(tmp_path):
    """The grader reads at most MAX_RECORD_BYTES of the verifier's answer; a longer one cannot be read, and the
    notebook is then "could not verify". What the notebook saved must not make the answer that long."""
    from course.grading import verify
    from course.grading.verification import MAX_RECORD_BYTES

    from course.spec import load

    spec = load(ASSIGNMENT)
    trained = tmp_path / "artifacts" / spec.artifacts[0].name
    trained.mkdir(parents=True)
    (trained / "values.json").write_text(json.dumps({"problems": ["x" * 300] * 30_000}))
    verdicts = verify.Verifier(spec, tmp_path).artifact_verdicts(spec.artifacts[0])
    assert len(json.dumps({"verdicts": verdicts})) < MAX_RECORD_BYTES // 100, "one saved file makes the verifier's answer unreadable"


class ShippingExecutor:
    """Stands in for the grading cluster: keeps what would go to a worker and sends the notebook straight back."""

    def __init__(self):
        self.shipped = None

    def ungraded_sources(self, assignment, name):
        return set()

    def execute(self, student, assignment, name, notebook, answers):
        self.shipped = (nbformat.reads(notebook, as_version=4), nbformat.reads(answers, as_version=4))
        return SimpleNamespace(notebook=notebook, record={"verdicts": {}}, worker="local", seconds=0.0, peak_memory_bytes=0)


def test_no_hidden_test_code_goes_where_student_code_runs(tmp_path):
    """The worker gets each hidden test cell as the release has it (its comment only), and the harness gets no test
    cell at all; the instructor's autograded copy keeps the hidden tests."""
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    released = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in nbformat.read(RELEASED_NOTEBOOK, as_version=4).cells}
    executor = ShippingExecutor()
    workdir = tmp_path / "autograded" / "s001" / ASSIGNMENT
    workdir.mkdir(parents=True)
    executed, _ = ExecuteOnWorker(executor=executor).preprocess(source, {"metadata": {"path": str(workdir), "name": ASSIGNMENT}})
    shipped, answers = executor.shipped
    for notebook in (shipped, answers):
        text = nbformat.writes(notebook)
        assert "hidden_checks" not in text and "MIN_TEST_ACCURACY" not in text and "BEGIN HIDDEN TESTS" not in text
        assert not [line for line in hidden_lines() if line in text]
    for cell in shipped.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert cell.source == released[grade_id], grade_id
    assert all(not cell.metadata["nbgrader"].get("grade") for cell in answers.cells)
    assert "hidden_checks.accuracy_at_least" in nbformat.writes(executed)  # the instructor's copy
    assert json.loads((workdir / VERIFICATION_FILE).read_text())["flags"]  # nothing verified: every hidden test flagged


# --- the fixtures, graded together (slow) ------------------------------------------------------------------------

# attack -> its honest twin (graded in the same run, or its golden scores when it is not)
TWINS = {
    "tamper_shadows_course_package": "untouched_release",
    "tamper_forges_harness_at_exit": "untouched_release",
    "tamper_blanks_tests_and_floods_verifier": "untouched_release",
    "tamper_three_epochs_forges_fit_record": "fails_three_epochs",
    "tamper_three_epochs_forges_step_count": "fails_three_epochs",
    "tamper_extra_cell_redefines_model": "passes_all",
    "tamper_fits_test_images": "fails_weak_model",
    "tamper_reads_hidden_checks": "tamper_opens_socket",  # scale_mnist_data right, nothing else answered
    "tamper_symlink_in_workdir": "tamper_opens_socket",
    "tamper_stops_batch_with_markup": "tamper_opens_socket",
}
HONEST = ["untouched_release", "fails_three_epochs", "fails_weak_model", "passes_all_with_tf_nn_softmax", "passes_all_returns_model_history"]
GRADED = [*TWINS, *HONEST]
AFTER_THE_MARKUP = "zz_after_markup"  # sorts after tamper_stops_batch_with_markup: graded after it
REFUSED = {  # student -> how the submission links out
    "tamper_links_notebook_to_source": "notebook",
    "tamper_links_folder_to_source": "folder",
}
OUTSIDE = Path("/tmp/course-tamper-symlink-target")  # where tamper_symlink_in_workdir's .artifacts link points
LEAKED = "LEAKED-FROM-THE-GRADING-MACHINE"
TRUST_CONFIG = """
c.Execute.timeout = 400
c.ResilientExecute.notebook_timeout = 1200
c.Sandbox.file_bytes = 256 * 2**20
c.Sandbox.memory_bytes = 3 * 2**30
c.ResilientExecute.max_output_bytes = 1_000_000
"""


def plant_shadow_package(course: Path, marker: Path) -> None:
    """Files beside the notebook that would run if any grading process imported them."""
    folder = course / "submitted" / "tamper_shadows_course_package" / ASSIGNMENT
    payload = textwrap.dedent(f"""
        import json, os, sys
        print("SHADOW PACKAGE IMPORTED")
        with open({str(marker)!r}, "a") as _marker:
            _marker.write(f"{{__name__}} in {{sys.argv}} at {{os.getcwd()}}\\n")
        for _record in ("verification.json", "results.json"):  # and full marks, for whoever reads them
            try:
                with open(_record, "w") as _file:
                    json.dump({{"verdicts": {{}}, "flags": [], "full_marks": True}}, _file)
            except OSError:
                pass
    """)
    for name in ("course/__init__.py", "course/grading/__init__.py", "course/grading/verify.py", "course/sandboxed/__init__.py",
                 "course/sandboxed/harness.py", "sitecustomize.py", "usercustomize.py", "numpy.py", "tensorflow.py",
                 "ipython_config.py", "ipython_kernel_config.py", "jupyter_config.py", "nbgrader_config.py"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(payload)
    (course / "submitted" / "tamper_shadows_course_package" / "course").mkdir()
    (course / "submitted" / "tamper_shadows_course_package" / "course" / "__init__.py").write_text(payload)


def plant_submission_links(course: Path) -> None:
    submitted = course / "submitted"
    folder = submitted / "tamper_symlink_in_workdir" / ASSIGNMENT
    (folder / "notes.txt").symlink_to(Path("..") / ".." / "untouched_release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / ".ipynb_checkpoints").symlink_to(Path("..") / ".." / "untouched_release" / ASSIGNMENT)
    (folder / "timestamp.txt").symlink_to("/etc/passwd")
    linked = submitted / "tamper_links_notebook_to_source" / ASSIGNMENT
    linked.mkdir(parents=True)
    (linked / f"{ASSIGNMENT}.ipynb").symlink_to(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (submitted / "tamper_links_folder_to_source").mkdir()
    (submitted / "tamper_links_folder_to_source" / ASSIGNMENT).symlink_to(Path("..") / ".." / "source" / ASSIGNMENT)


def plant_outside_folder() -> None:
    """A folder of the grading machine's, where tamper_symlink_in_workdir points its .artifacts link."""
    (OUTSIDE / "trained").mkdir(parents=True, exist_ok=True)
    (OUTSIDE / "trained" / "values.json").write_text(json.dumps({"problems": [LEAKED]}))
    (OUTSIDE / "trained" / "secret.txt").write_text(LEAKED)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    course = make_course(tmp_path_factory.mktemp("trust-boundary"), TRUST_CONFIG)
    for fixture in GRADED:
        submit(course, fixture)
    submit(course, "untouched_release", AFTER_THE_MARKUP)
    marker = tmp_path_factory.mktemp("shadow") / "imported.txt"
    plant_shadow_package(course, marker)
    plant_submission_links(course)
    plant_outside_folder()
    watched = [course / "source", course / "release", course / "submitted", course / "nbgrader_config.py", Path("/etc/passwd"), OUTSIDE]
    before = tree_state(*watched)
    try:
        started = time.monotonic()
        result = run_course(course, "grade", ASSIGNMENT, "--workers", "2", check=False)
        seconds = time.monotonic() - started
        after = tree_state(*watched)
    finally:
        shutil.rmtree(OUTSIDE, ignore_errors=True)
    print(result.stdout[-5000:], f"\n(graded in {seconds:.0f} s)")
    return SimpleNamespace(course=course, result=result, before=before, after=after, marker=marker)


@pytest.fixture(scope="module")
def feedback(graded):
    return run_course(graded.course, "feedback", ASSIGNMENT, check=False)


def autograded_notebook(course: Path, student: str):
    return nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def cell_text(course: Path, student: str, grade_id: str) -> str:
    cell = next(cell for cell in autograded_notebook(course, student).cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(output.get("text", "") + output.get("evalue", "") for output in cell.outputs)


def all_outputs(course: Path, student: str) -> str:
    return json.dumps([cell.get("outputs", []) for cell in autograded_notebook(course, student).cells])


def verification(course: Path, student: str) -> dict:
    return json.loads((course / "autograded" / student / ASSIGNMENT / VERIFICATION_FILE).read_text())


def console_line(result, student: str) -> str:
    """Everything `course grade` printed about ``student`` (its lines, and their continuations when wrapped)."""
    said, mine = [], False
    for line in result.stdout.splitlines():
        if re.match(r"^[\w.-]+: ", line) or line.startswith(("Grading ", "Graded ")):
            mine = line.startswith(f"{student}: ")
            if mine:
                said.append(line)
        elif mine:
            said[-1] += " " + line.strip()
    assert said, f"no line for {student} in:\n{result.stdout}"
    return " ".join(said)


def total(course: Path, student: str) -> float:
    return sum(cell_scores(course, student).values())


def grade_ended_normally(result) -> None:
    """`course grade` ran to its summary; its exit status is 1 only because the linked submissions were refused
    (course.cli: non-zero when any submission is not graded), never a crash."""
    assert result.returncode == (1 if REFUSED else 0), result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Scores are in the gradebook" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_the_batch_completes(graded):
    result = graded.result
    grade_ended_normally(result)
    students = len(GRADED) + 1 + len(REFUSED)
    assert f"Graded {len(GRADED) + 1} of {students} submission(s)" in result.stdout
    assert f"{len(REFUSED)} could not be graded" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("fixture", GRADED)
def test_golden_scores(graded, fixture):
    assert_golden(graded.course, fixture, fixture)


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(TWINS))
def test_an_attack_scores_no_more_than_its_honest_twin(graded, attack):
    twin = TWINS[attack]
    scores = cell_scores(graded.course, attack)
    if twin in GRADED:
        twin_scores = cell_scores(graded.course, twin)
    else:
        expected = EXPECTED[twin]
        zero = set(scores) if expected["zero"] == "all" else set(expected["zero"])
        twin_scores = {cell: (0 if cell in zero else None) for cell in scores}
    gained = {cell: score for cell, score in scores.items() if score > 0 and twin_scores.get(cell) == 0}
    assert not gained, f"{attack} scored where its honest twin {twin} did not: {gained}"
    assert sum(scores.values()) <= EXPECTED[twin]["total"]


@pytest.mark.slow
def test_a_package_beside_the_notebook_is_never_imported(graded):
    course, student = graded.course, "tamper_shadows_course_package"
    assert not graded.marker.exists(), f"a grading process imported the student's files: {graded.marker.read_text()}"
    assert "SHADOW PACKAGE IMPORTED" not in all_outputs(course, student)
    assert "full_marks" not in (course / "autograded" / student / ASSIGNMENT / VERIFICATION_FILE).read_text()
    assert "left alone: course" in console_line(graded.result, student)
    assert cell_scores(course, student) == cell_scores(course, "untouched_release")


@pytest.mark.slow
def test_records_forged_by_the_harness_process_gain_nothing(graded):
    """What the harness process saved may be the student's own writing; the notebook's own visible tests failing
    cannot be undone from inside, so those functions get nothing from outside, and the student is flagged."""
    course, student = graded.course, "tamper_forges_harness_at_exit"
    kept = {cell: score for cell, score in cell_scores(course, student).items() if score}
    assert not kept, f"records the student's code rewrote as the harness exited kept {kept}"
    reasons = [flag["reason"] for flag in verification(course, student)["flags"]]
    assert any("failed in the kernel, passed outside it" in reason for reason in reasons), reasons
    assert "own test of scale_mnist_data" in cell_text(course, student, "test_scale_range")


@pytest.mark.slow
@pytest.mark.parametrize("student", ["tamper_three_epochs_forges_fit_record", "tamper_three_epochs_forges_step_count"])
def test_a_forged_fit_record_is_caught_by_the_step_count_and_flagged(graded, student):
    course = graded.course
    why = "training steps" if student.endswith("fit_record") else "step counter"
    assert cell_scores(course, student)["test_train_epochs"] == 0
    assert why in cell_text(course, student, "test_train_epochs")
    reasons = [flag["reason"] for flag in verification(course, student)["flags"] if flag["cell"] == "test_train_epochs"]
    assert reasons and why in reasons[0]
    assert "flagged" in console_line(graded.result, student)


@pytest.mark.slow
def test_an_added_cell_that_redefines_the_model_loses_the_model_and_accuracy_points(graded):
    course, student = graded.course, "tamper_extra_cell_redefines_model"
    scores = cell_scores(course, student)
    for cell in ("test_model_layers", "test_model_conv", "test_model_pool", "test_model_dense", "test_evaluate_accuracy"):
        assert scores[cell] == 0, cell
    text = cell_text(course, student, "test_evaluate_accuracy")
    assert any(why in text for why in ("of the test images", "fitted on the test images", "is not the model get_model builds",
                                       "cannot be credited")), text
    assert verification(course, student)["flags"], "the added cell went unflagged"


@pytest.mark.slow
def test_a_model_fitted_on_the_test_images_does_not_pass_the_accuracy_test(graded):
    course, student = graded.course, "tamper_fits_test_images"
    assert cell_scores(course, student)["test_evaluate_accuracy"] == 0
    assert "fitted on the test images" in cell_text(course, student, "test_evaluate_accuracy")


def hidden_lines() -> list[str]:
    """Lines of the hidden checks and thresholds specific enough that no other text would hold them (none that a
    module students have, which the sandbox lets them read, holds too)."""
    lines = [line for path in (HIDDEN_CHECKS, THRESHOLDS, package_dir() / "assignments" / "keras_checks.py")
             for line in path.read_text().splitlines()]
    students_have = "\n".join(  # searched as text: `def f(a, b):` in a student module shows the call `f(a, b)` too
        path.read_text()
        for part in PackageView.BESIDE_STUDENT_CODE
        for path in ([package_dir() / part] if part.endswith(".py") else sorted((package_dir() / part).glob("*.py")))
    )
    return sorted({line.strip() for line in lines
                   if len(line.strip()) >= 25 and not line.strip().startswith(("import ", "from ")) and line.strip() not in students_have})


THRESHOLD_VALUE = re.compile(r"(?<![\d.])0\.97(?![\d])")


class ActiveContent(html.parser.HTMLParser):
    """Collects what a browser would run: script elements, on* handlers, javascript: links, frames."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self._in_script = [], False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed"):
            self._in_script = tag == "script"
            self.found.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:") or name == "srcdoc":
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data):
        if self._in_script:
            self.found.append(data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


@pytest.mark.slow
def test_the_hidden_checks_stay_hidden(graded, feedback):
    course, student = graded.course, "tamper_reads_hidden_checks"
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    outputs = all_outputs(course, student)
    assert "blocked: import course.grading ModuleNotFoundError" in outputs  # the attempts ran
    assert "FOUND course.grading" not in outputs
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    for where, text in (("the autograded notebook's outputs", outputs), ("the feedback", html.unescape(page))):
        leaked = [line for line in hidden_lines() if line in text]
        assert not leaked, f"{where} holds lines of the hidden checks: {leaked[:5]}"
        assert not THRESHOLD_VALUE.search(text), f"{where} holds MIN_TEST_ACCURACY's value"


@pytest.mark.slow
def test_student_script_never_runs_in_feedback(graded, feedback):
    """What the student's code displayed (HTML, JavaScript, Markdown, SVG, printed tags) and the Markdown cell they
    added are shown as inert text or sanitized: nothing in the page runs the student's script."""
    course, student = graded.course, "tamper_reads_hidden_checks"
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "tamperxss-print" in page  # shown, as text
    parser = ActiveContent()
    parser.feed(page)
    active = [item for item in parser.found if "tamperxss" in item]
    assert not active, f"the feedback page runs the student's script: {active}"


@pytest.mark.slow
def test_links_change_nothing_outside_and_refused_submissions_say_why(graded):
    course, result = graded.course, graded.result
    assert graded.after == graded.before, {path for path in set(graded.before) | set(graded.after) if graded.before.get(path) != graded.after.get(path)}
    line = console_line(result, "tamper_links_notebook_to_source")
    assert "not graded" in line and f"{ASSIGNMENT}.ipynb is a symbolic link" in line
    line = console_line(result, "tamper_links_folder_to_source")
    assert "not graded" in line and "symbolic link, not a folder" in line
    assert not (course / "autograded" / "tamper_links_notebook_to_source").exists()
    student = "tamper_symlink_in_workdir"
    assert "linked .artifacts -> /tmp/course-tamper-symlink-target" in all_outputs(course, student)  # the attempt ran
    notebook_text = nbformat.writes(autograded_notebook(course, student))
    assert LEAKED not in notebook_text, "the grader followed the kernel's .artifacts link to a folder of the grading machine"
    assert "left alone: .ipynb_checkpoints, notes.txt" in console_line(result, student)
    assert "timestamp.txt ignored" in console_line(result, student)
    autograded = course / "autograded" / student / ASSIGNMENT  # the records are the grader's own, regular files
    assert not any(path.is_symlink() for path in autograded.rglob("*"))
    for record in (VERIFICATION_FILE, ".course-graded.json"):
        assert stat.S_ISREG(os.lstat(autograded / record).st_mode) and isinstance(json.loads((autograded / record).read_text()), dict)


@pytest.mark.slow
def test_markup_and_marker_comments_stop_nothing(graded, feedback):
    course, result = graded.course, graded.result
    grade_ended_normally(result)
    assert_golden(course, AFTER_THE_MARKUP, "untouched_release")
    assert "[link=x]" not in result.stdout and "GradingStopped" not in result.stdout
    assert console_line(result, "tamper_stops_batch_with_markup").startswith("tamper_stops_batch_with_markup: 4/21")
    assert verification(course, "tamper_stops_batch_with_markup")["stopped"] is None
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    graded_students = [*GRADED, AFTER_THE_MARKUP]
    for student in graded_students:
        assert (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file(), student
    page = (course / "feedback" / "tamper_stops_batch_with_markup" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "[/red][link=x]" in html.unescape(page)  # the student's own message, shown as text
    report = run_course(course, "report", ASSIGNMENT, check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    export = run_course(course, "export", ASSIGNMENT, "-o", "grades.csv", check=False)
    assert export.returncode == 0
    with open(course / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert {student for student, row in rows.items() if row["status"] == "graded"} == set(graded_students)
    assert all(rows[student]["status"] != "graded" and rows[student]["total"] == "" for student in REFUSED)


@pytest.mark.slow
@pytest.mark.parametrize("student", ["passes_all_with_tf_nn_softmax", "passes_all_returns_model_history"])
def test_other_spellings_of_right_answers_keep_full_marks_unflagged(graded, student):
    assert total(graded.course, student) == 21
    record = verification(graded.course, student)
    assert record["flags"] == [] and record["disagreements"] == [] and record["could_not_verify"] is None


@pytest.mark.slow
@pytest.mark.parametrize("student", ["tamper_three_epochs_forges_fit_record", "tamper_blanks_tests_and_floods_verifier", "tamper_extra_cell_redefines_model"])
def test_flagged_students_are_flagged_in_the_export(graded, student):
    run_course(graded.course, "export", ASSIGNMENT, "-o", "flags.csv")
    with open(graded.course / "flags.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert verification(graded.course, student)["flags"]
    assert rows[student]["flags"], f"{student} is flagged in verification.json but not in `course export`"
    assert rows["passes_all_returns_model_history"]["flags"] == ""


@pytest.mark.slow
def test_a_notebook_that_cannot_be_verified_keeps_no_point_of_the_kernel(graded):
    course, student = graded.course, "tamper_blanks_tests_and_floods_verifier"
    record = verification(course, student)
    kept = {cell: score for cell, score in cell_scores(course, student).items() if score}
    assert not kept, f"could not verify ({record['could_not_verify']}), and the blanked tests kept their points: {kept}"

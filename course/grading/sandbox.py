"""Run each submission's kernel inside a bubblewrap sandbox.

What the kernel sees:
- no network (its own network namespace; the kernel talks to the grader over ipc sockets, which tcp could not);
- the whole filesystem read-only, with the course directory hidden except the `course` package (and a
  virtualenv inside it), so no solutions, hidden tests, gradebook or other students;
- its own working copy (autograded/<student>/<assignment>/) and a private, size-capped /tmp as the only
  writable places;
- its own PID namespace and session (it cannot signal the grader or other kernels).

Resource caps, applied by this module as the kernel's launcher before it execs bwrap:
- memory: RLIMIT_DATA (heap and anonymous mappings), default 4 GiB;
- processes and threads: a pids cgroup when the machine lets us make one, else RLIMIT_NPROC;
- CPU time: RLIMIT_CPU; wall time is the per-cell timeout of the grader;
- disk: RLIMIT_FSIZE per file, and the size of the private /tmp;
- output: capped per cell by ResilientExecute in the grader.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, Unicode
from traitlets.config import Configurable

PIDS_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
GIB = 2**30


class Sandbox(Configurable):
    """Limits for each student's kernel; set them in nbgrader_config.py as c.Sandbox.<name>."""

    memory_bytes = Integer(4 * GIB, help="RLIMIT_DATA of the kernel: heap and anonymous mappings.").tag(config=True)
    max_processes = Integer(512, help="Processes and threads of the kernel, together.").tag(config=True)
    cpu_seconds = Integer(3600, help="CPU time of the kernel, all cells together.").tag(config=True)
    file_bytes = Integer(1 * GIB, help="Largest file the kernel may write.").tag(config=True)
    tmp_bytes = Integer(1 * GIB, help="Size of the kernel's private /tmp.").tag(config=True)
    course_root = Unicode(help="The course directory to hide from the kernel (default: the current one).").tag(config=True)


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def _under(path: Path, parent: Path) -> bool:
    """Whether ``path``, as written (symlinks not followed), lies in ``parent``."""
    return Path(os.path.abspath(path)).is_relative_to(Path(os.path.abspath(parent)))


def bwrap_command(
    kernel_cmd: list[str], workdir: Path, runtime_dir: Path, course_root: Path, tmp_bytes: int,
    writable: tuple[Path, ...] = (), readable: tuple[Path, ...] = (),
) -> list[str]:
    """The bwrap argv that runs ``kernel_cmd`` with only ``workdir``, ``writable`` and a private /tmp writable
    (``readable``: folders it may also read, which a hidden folder would otherwise cover)."""
    command = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    command += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    command += ["--tmpfs", str(course_root)]
    # what the kernel needs from under the hidden folders comes back, read-only, at the path it is known by
    # (which may be a symlink: the real file is bound there)
    hidden = (course_root, Path("/tmp"))
    needed = [Path(__file__).parents[1], Path(sys.prefix), Path(sys.base_prefix)]
    if os.environ.get("MNIST_PATH"):
        needed.append(Path(os.environ["MNIST_PATH"]))
    for path in needed:
        known, real = Path(os.path.abspath(path)), path.resolve()
        if real.exists() and any(_under(known, folder) or _under(real, folder) for folder in hidden):
            command += ["--ro-bind", str(real), str(known)]
    command += ["--bind", str(workdir), str(workdir), "--bind", str(runtime_dir), str(runtime_dir)]
    for path in writable:
        command += ["--bind", str(path), str(path)]
    for path in readable:
        command += ["--ro-bind", str(path), str(path)]
    # then make the empty tmpfs over the course read-only too (the binds inside it stay as they are)
    command += ["--remount-ro", str(course_root)]
    command += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session", "--die-with-parent"]
    command += ["--chdir", str(workdir), "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib"]
    # ipykernel exits when its parent pid is not the one the grader gave it; in the new PID namespace it never
    # is. --die-with-parent ends the kernel with the grader instead.
    command += ["--unsetenv", "JPY_PARENT_PID"]
    return command + ["--"] + kernel_cmd


def _join_pids_cgroup(name: str, max_processes: int) -> bool:
    group = PIDS_CGROUP_ROOT / name
    try:
        group.mkdir(exist_ok=True)
        (group / "pids.max").write_text(str(max_processes))
        (group / "cgroup.procs").write_text(str(os.getpid()))
        return True
    except OSError:
        return False


def remove_pids_cgroup(name: str) -> None:
    try:
        (PIDS_CGROUP_ROOT / name).rmdir()
    except OSError:
        pass


def apply_limits(memory_bytes: int, cpu_seconds: int, file_bytes: int) -> None:
    """The memory, CPU and file caps of this process (inherited by what it starts or execs)."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def sandbox_limits(sandbox: Sandbox):
    """A preexec_fn applying the sandbox's caps to a child process."""
    return lambda: apply_limits(sandbox.memory_bytes, sandbox.cpu_seconds, sandbox.file_bytes)


def launch(args: argparse.Namespace, kernel_cmd: list[str]) -> None:
    """Apply the caps to this process, then become bwrap (the caps are inherited by the kernel)."""
    apply_limits(args.memory_bytes, args.cpu_seconds, args.file_bytes)
    if not _join_pids_cgroup(args.cgroup, args.max_processes):
        resource.setrlimit(resource.RLIMIT_NPROC, (args.max_processes, args.max_processes))
    command = bwrap_command(kernel_cmd, Path.cwd(), Path(args.runtime_dir), Path(args.course_root), args.tmp_bytes)
    os.execvp(command[0], command)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m course.grading.sandbox")
    for name in ("memory-bytes", "max-processes", "cpu-seconds", "file-bytes", "tmp-bytes"):
        parser.add_argument(f"--{name}", type=int, required=True)
    for name in ("runtime-dir", "course-root", "cgroup"):
        parser.add_argument(f"--{name}", required=True)
    launch(parser.parse_args(argv[:split]), argv[split + 1 :])


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel through this module's launcher, talking to it over ipc sockets in a private folder."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = Sandbox(parent=self)
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        self.cgroup_name = f"course-kernel-{uuid.uuid4().hex[:12]}"
        self.transport = "ipc"
        self.ip = str(self.runtime_dir / "ipc")
        self.connection_file = str(self.runtime_dir / "connection.json")

    def format_kernel_cmd(self, extra_arguments=None):
        kernel_cmd = super().format_kernel_cmd(extra_arguments)
        sandbox = self.sandbox
        return [
            sys.executable, "-m", "course.grading.sandbox",
            "--memory-bytes", str(sandbox.memory_bytes),
            "--max-processes", str(sandbox.max_processes),
            "--cpu-seconds", str(sandbox.cpu_seconds),
            "--file-bytes", str(sandbox.file_bytes),
            "--tmp-bytes", str(sandbox.tmp_bytes),
            "--runtime-dir", str(self.runtime_dir),
            "--course-root", sandbox.course_root or os.getcwd(),
            "--cgroup", self.cgroup_name,
            "--", *kernel_cmd,
        ]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            remove_pids_cgroup(self.cgroup_name)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

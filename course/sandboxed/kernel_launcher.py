"""Starts one submission's kernel and its harness from a single import of Keras, inside the kernel's sandbox.

    python -I -m course.sandboxed.kernel_launcher --in-fd FD --out-fd FD --done-fd FD --seconds S --niceness N
        -- IPYKERNEL_ARGUMENTS...

Both the kernel and the harness run the student's code and import Keras (with TensorFlow): about 2 CPU-seconds
each time, the harness's biggest cost (docs/benchmarks.md, issue 20). This process imports it once, runs no
student code, and forks the two. Each is still a fresh process of this one submission: forked from a process that
has run nothing of any student, and ending with the submission. Importing TensorFlow starts no thread and runs no
op, so a fork after it is safe (the warm verifier relies on the same, course.grading.verify.serve).

The harness's folders stay out of the kernel's reach, as when it had a sandbox of its own: neither is bound into
this sandbox, and the harness alone holds them, as open directories: ``--in-fd`` (the answers notebook and the
plan of calls, ANSWERS_FILE and PLAN_FILE: the plan names the grader's inputs, which the kernel, whose output is
the student's feedback, must not see) and ``--out-fd`` (where it writes), both through /proc/self/fd. It is
forked non-dumpable, so no other process of the sandbox can open its files or trace it; the fds are closed here
before the kernel is forked. The kernel is forked dumpable, as a kernel started on its own.

This process stays the two's parent and the sandbox's command, so the sandbox ends only when both have: a notebook
that crashes its kernel still has its functions checked. The harness gets ``--seconds`` and is then killed. The
grader learns that the harness has ended when ``--done-fd`` (a pipe the grader made, open in the harness alone)
reaches its end.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import tempfile
import traceback

from course.sandboxed.keras_import import import_keras

ANSWERS_FILE, PLAN_FILE = "answers.ipynb", "plan.json"  # in the folder --in-fd holds
HARNESS_NAME = "course-harness"  # its process name (comm), for ps and benchmarks/submission_cpu.py
LAUNCHER_NAME = "course-launcher"
PR_SET_DUMPABLE, PR_SET_NAME = 4, 15


def _name_this_process(name: str) -> None:
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0)
    except (OSError, AttributeError):  # a name is for people reading ps; nothing depends on it
        pass


def _set_dumpable(dumpable: bool) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, int(dumpable), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed: the harness's outputs could not be hidden")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -I -m course.sandboxed.kernel_launcher")
    parser.add_argument("--in-fd", type=int, required=True, help="the harness's input folder, open")
    parser.add_argument("--out-fd", type=int, required=True, help="the harness's output folder, open")
    parser.add_argument("--done-fd", type=int, required=True, help="open in the harness alone; its end says it ended")
    parser.add_argument("--seconds", type=int, required=True, help="the harness's time, all its calls together")
    parser.add_argument("--niceness", type=int, default=0, help="the harness's, above the kernel's")
    parser.add_argument("kernel", nargs=argparse.REMAINDER, help="-- then ipykernel's arguments")
    arguments = parser.parse_args(argv)
    if arguments.kernel[:1] == ["--"]:
        arguments.kernel = arguments.kernel[1:]
    return arguments


def _run_harness(arguments: argparse.Namespace) -> None:
    """The forked harness; never returns."""
    code = 1
    try:
        _name_this_process(HARNESS_NAME)
        if arguments.niceness:
            os.nice(arguments.niceness)
        # a working folder of its own, as when it had a sandbox of its own: what the student's cells write there
        # (they run here too) is not in the kernel's way
        os.chdir(tempfile.mkdtemp(prefix="harness-"))
        from course.sandboxed import harness

        inputs = f"/proc/self/fd/{arguments.in_fd}"
        harness.main([f"{inputs}/{ANSWERS_FILE}", f"{inputs}/{PLAN_FILE}", f"/proc/self/fd/{arguments.out_fd}"])
        code = 0
    except BaseException:  # the harness's own failure: its outputs so far stand, the grader reads them
        traceback.print_exc()
    finally:
        os._exit(code)  # never the launcher's exit handlers or buffers


def _run_kernel(kernel_arguments: list[str]) -> None:
    """The forked kernel, as ``python -m ipykernel_launcher ARGUMENTS`` runs it; never returns."""
    code = 1
    try:
        from ipykernel import kernelapp

        sys.argv = ["ipykernel_launcher", *kernel_arguments]
        kernelapp.launch_new_instance(argv=kernel_arguments)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        os._exit(code)


def main(argv: list[str] | None = None) -> None:
    arguments = _parse(sys.argv[1:] if argv is None else argv)
    held = (arguments.in_fd, arguments.out_fd, arguments.done_fd)
    for fd in held:
        os.set_inheritable(fd, False)  # nothing the harness starts holds them
    import_keras()  # before either forks: the same modules, imported once (course.sandboxed.keras_import)
    _set_dumpable(False)  # the harness is non-dumpable from its first instruction
    harness = os.fork()
    if harness == 0:
        _run_harness(arguments)
    for fd in held:
        os.close(fd)  # the harness holds them alone: the pipe's end is its end
    _set_dumpable(True)
    kernel = os.fork()
    if kernel == 0:
        _run_kernel(arguments.kernel)
    _name_this_process(LAUNCHER_NAME)

    def out_of_time(signum, frame):
        try:
            os.kill(harness, signal.SIGKILL)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(max(1, arguments.seconds))
    kernel_status, waiting = None, {harness, kernel}
    while waiting:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == kernel:
            kernel_status = status
        if pid == harness:
            signal.alarm(0)
        waiting.discard(pid)
    os._exit(os.waitstatus_to_exitcode(kernel_status) % 256 if kernel_status is not None else 1)


if __name__ == "__main__":
    main()

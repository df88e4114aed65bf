"""Reading files that student code, or a student, could have made: never following a link, never blocking on a
FIFO, never reading more than a cap.

Every path here is opened relative to a folder descriptor with O_NOFOLLOW, so a link swapped in between a check
and the open is refused, not followed. What is read is copied into folders the grader made and only it writes.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import SubmissionRefused

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def open_dir(path: Path, dir_fd: int | None = None) -> int:
    """A descriptor of the folder ``path`` (relative to ``dir_fd``), refusing a link or anything not a folder."""
    try:
        return os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            mode = os.lstat(path, dir_fd=dir_fd).st_mode
            raise SubmissionRefused(f"{path} is {_kind(mode)}, not a folder") from None
        raise


def read_regular(name: str | Path, max_bytes: int, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, refusing links, FIFOs, devices and anything larger than ``max_bytes``."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SubmissionRefused(f"{name} is a symbolic link; only regular files are accepted") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionRefused(f"{name} is {_kind(info.st_mode)}; only regular files are accepted")
        if info.st_size > max_bytes:
            raise SubmissionRefused(f"{name} is {info.st_size:,} bytes; the limit is {max_bytes:,}")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise SubmissionRefused(f"{name} is over {max_bytes:,} bytes; the limit is {max_bytes:,}")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_regular_path(path: Path, max_bytes: int) -> bytes:
    """``read_regular`` of ``path``, whose folder may be trusted but whose last component may not."""
    fd = os.open(path.parent, DIR_FLAGS)
    try:
        return read_regular(path.name, max_bytes, dir_fd=fd)
    finally:
        os.close(fd)


@dataclass
class CopyReport:
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # what was not copied, and why


def open_dir_under(base: Path, relative: str | Path = "") -> int:
    """A descriptor of ``base/relative``, every component of ``relative`` opened with O_NOFOLLOW relative to the
    last: a link anywhere below ``base`` (a folder the grader made or bind-mounted) is refused, never followed."""
    fd = os.open(base, DIR_FLAGS)
    try:
        for part in Path(relative).parts:
            if part in ("..", "/"):
                raise SubmissionRefused(f"{relative} leaves {base}")
            child = open_dir(Path(part), dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def copy_tree(base: Path, target: Path, relative: str | Path = "", max_files: int = 100, max_bytes: int = 200_000_000) -> CopyReport:
    """Copy the regular files under ``base/relative`` into ``target`` (made here), skipping links and special files.

    ``base`` is a folder the grader made; no link in ``relative`` or below it is followed. Stops at ``max_files``
    files or ``max_bytes`` bytes; everything skipped is named in the report.
    """
    report = CopyReport()
    try:
        top = open_dir_under(base, relative)
    except FileNotFoundError:
        return report
    except (SubmissionRefused, OSError) as error:
        report.skipped.append(f"{Path(relative) or base}: {error}")
        return report
    try:
        _copy_dir(top, target, "", report, max_files, max_bytes)
    finally:
        os.close(top)
    return report


def _copy_dir(fd: int, target: Path, prefix: str, report: CopyReport, max_files: int, max_bytes: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with os.scandir(fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        shown = f"{prefix}{name}"
        try:
            mode = os.lstat(name, dir_fd=fd).st_mode
            if stat.S_ISDIR(mode):
                child = open_dir(Path(name), dir_fd=fd)
                try:
                    _copy_dir(child, target / name, f"{shown}/", report, max_files, max_bytes)
                finally:
                    os.close(child)
                continue
            if report.files >= max_files:
                report.skipped.append(f"{shown}: more than {max_files} files")
                continue
            content = read_regular(name, max_bytes - report.bytes, dir_fd=fd)
        except (SubmissionRefused, OSError) as error:
            report.skipped.append(f"{shown}: {error}")
            continue
        (target / name).write_bytes(content)
        report.files += 1
        report.bytes += len(content)

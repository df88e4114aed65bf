"""`course publish OUTDIR`: the student-facing tree, ready to push to a public repository and launch on Binder.

It holds the release notebooks, the student part of the `course` package (never course/grading, the command
line or anything with solutions or hidden tests), a repo2docker environment (environment.yml + postBuild) and a
README with a Binder badge per notebook.

The tree is made in memory and checked before anything is written: it follows no symbolic link (a link in
release/ could point at a source notebook), and no file of it may hold an nbgrader solution or hidden-test
delimiter, or any solution or hidden-test line of the source notebooks. A check that fails stops with the file
named and leaves OUTDIR as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path
from urllib.parse import quote

import yaml
from rich.console import Console

from .coursedir import CourseError, course_root  # noqa: F401  (CourseError is part of this module's API)

# What students' notebooks import (course/student/, which imports nothing else of course); the rest is for instructors.
STUDENT_PACKAGE = "student"
# What the notebooks need at run time on Binder; grading tools stay out to keep the image small.
STUDENT_REQUIREMENTS = ("tensorflow-cpu", "keras", "numpy", "pandas", "matplotlib", "seaborn", "jupyterlab", "ipykernel")
MARKER = ".course-publish"
BINDER = "https://mybinder.org"
# nbgrader's delimiters (ClearSolutions, ClearHiddenTests): what a source notebook has and a release never does
SECRET_REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
LONG_SECRET = 20  # characters: a secret line this long is distinctive enough to find inside other text


def binder_url(org: str, repo: str, ref: str, notebook: str) -> str:
    return f"{BINDER}/v2/gh/{org}/{repo}/{ref}?labpath={quote(notebook)}"


def student_pins(root: Path) -> list[str]:
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return [pin for pin in dependencies if pin.split("==")[0] in STUDENT_REQUIREMENTS]


def environment(root: Path, pins: list[str]) -> str:
    python = next(
        item for item in yaml.safe_load((root / "environment.yml").read_text())["dependencies"]
        if isinstance(item, str) and item.startswith("python=")
    )
    return yaml.safe_dump(
        {"name": "mnist-cnn-student", "channels": ["conda-forge"], "dependencies": [python, "pip", {"pip": pins}]},
        sort_keys=False,
    )


def readme(notebooks: list[str], org: str, repo: str, ref: str) -> str:
    lines = [
        "# MNIST CNN course: student notebooks",
        "",
        f"[![Binder]({BINDER}/badge_logo.svg)]({binder_url(org, repo, ref, notebooks[0])})",
        "",
        "Launch a notebook in your browser on Binder (it takes a minute or two to start), or run it locally with",
        "`pip install -e .` then `jupyter lab`.",
        "",
        "| notebook | launch |",
        "|---|---|",
    ]
    for notebook in notebooks:
        lines.append(f"| `{notebook}` | [![Binder]({BINDER}/badge_logo.svg)]({binder_url(org, repo, ref, notebook)}) |")
    lines += [
        "",
        "In a notebook, `check(<your function>)` tells you whether a function passes the visible checks.",
        "When you are done, use *File > Download* and hand the notebook in as your course asks.",
        "",
    ]
    return "\n".join(lines)


def secret_lines(root: Path) -> list[str]:
    """Every solution and hidden-test line of the source notebooks that students may not see.

    A line inside a solution or hidden-test region (or anywhere in a solution cell without delimiters, which
    nbgrader replaces whole) is secret unless the public part of the source notebooks shows it too; lines
    without a word character (brackets, blank lines) are left out.
    """
    public, secret = [], []
    for path in sorted((root / "source").rglob("*.ipynb")):
        for cell in read_notebook(path).cells:
            lines = cell.source.splitlines()
            whole = cell.metadata.get("nbgrader", {}).get("solution") and not any(
                begin in line for line in lines for begin, _ in SECRET_REGIONS
            )
            inside = False
            for line in lines:
                if any(begin in line for begin, _ in SECRET_REGIONS):
                    inside = True
                elif any(end in line for _, end in SECRET_REGIONS):
                    inside = False
                elif inside or whole:
                    secret.append(line.strip())
                else:
                    public.append(line)
    shown = "\n".join(public)
    students_have = "\n".join(path.read_text() for path in sorted((root / "course" / STUDENT_PACKAGE).glob("*.py")))
    secret += [line for line in instructor_lines(root) if line not in students_have]
    return list(dict.fromkeys(line for line in secret if re.search(r"\w", line) and line not in shown))


def instructor_lines(root: Path) -> list[str]:
    """The distinctive lines of every assignment's spec and hidden checks (course/assignments/): what they check,
    their thresholds, their messages, less what the student package (public by design) shares with them. Imports,
    comments and docstring openings are left out."""
    lines = []
    for path in sorted((root / "course" / "assignments").rglob("*.py")):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= LONG_SECRET and not line.startswith(("#", "from ", "import ", '"""')):
                lines.append(line)
    return lines


def read_notebook(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def searchable_text(name: str, content: bytes) -> str:
    """The text of a file to search for secrets: for a notebook, every string in its JSON too (cell sources and
    outputs, unescaped), so that a line with quotes in it is found."""
    text = content.decode("utf-8", errors="ignore")
    if name.endswith(".ipynb"):
        try:
            strings = []
            stack = [json.loads(text)]
            while stack:
                item = stack.pop()
                if isinstance(item, str):
                    strings.append(item)
                elif isinstance(item, list):
                    stack.extend(item)
                elif isinstance(item, dict):
                    stack.extend(item.values())
            text += "\n" + "".join(strings) + "\n" + "\n".join(strings)
        except ValueError:
            pass
    return text


def leaks(files: dict[str, bytes], secrets: list[str]) -> dict[str, str]:
    """File -> the first secret it holds: a solution or hidden-test delimiter, or a line of `secrets`.

    A secret line of LONG_SECRET characters or more is found anywhere (in a comment, a string, a notebook cell);
    a shorter one (`return model`) only as a whole line, so that prose mentioning it is no leak.
    """
    found = {}
    for name, content in files.items():
        text = searchable_text(name, content)
        marker = next((begin for begin, _ in SECRET_REGIONS if begin in text), None)
        if marker:
            found[name] = f"the nbgrader delimiter '{marker}'"
            continue
        lines = {line.strip() for line in text.splitlines()}
        line = next((line for line in secrets if line in lines or (len(line) >= LONG_SECRET and line in text)), None)
        if line:
            found[name] = f"the source line '{line}'"
    return found


def regular_file(path: Path, root: Path) -> bytes:
    """The bytes of `path`, which must be a regular file reached through no symbolic link under `root`."""
    relative = path.relative_to(root)
    for parent in [root / part for part in relative.parents][::-1] + [path]:
        if parent != root and parent.is_symlink():
            raise CourseError(
                f"{parent.relative_to(root)} is a symbolic link (to {os.readlink(parent)}); `course publish` follows "
                "none, since one could point at a source notebook. Replace it with the real file (`course release` "
                "makes release/)."
            )
    if not path.is_file():
        raise CourseError(f"{relative} is not a regular file; `course publish` publishes only regular files.")
    return path.read_bytes()


def tree(root: Path, org: str, repo: str, ref: str) -> tuple[dict[str, bytes], list[str]]:
    """Every file of the student tree (path in OUTDIR -> bytes), and the notebooks among them."""
    files: dict[str, bytes] = {}
    notebooks = []
    release = root / "release"
    if release.is_symlink():
        raise CourseError(f"{release} is a symbolic link; `course publish` follows none. Run `course release`.")
    for assignment in sorted(path for path in release.iterdir() if path.is_dir() or path.is_symlink()):
        if assignment.is_symlink():
            regular_file(assignment, root)  # refuses it, named
        for notebook in sorted(path for path in assignment.iterdir() if path.suffix == ".ipynb"):
            files[f"{assignment.name}/{notebook.name}"] = regular_file(notebook, root)
            notebooks.append(f"{assignment.name}/{notebook.name}")
    if not notebooks:
        raise CourseError(f"No notebooks under {release}: run `course release` first.")
    files["course/__init__.py"] = regular_file(root / "course" / "__init__.py", root)
    for module in sorted((root / "course" / STUDENT_PACKAGE).glob("*.py")):
        files[f"course/{STUDENT_PACKAGE}/{module.name}"] = regular_file(module, root)
    pins = student_pins(root)
    files["pyproject.toml"] = (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "mnist-cnn-course-student"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = {pins!r}\n\n[tool.setuptools]\npackages = [\"course\", \"course.student\"]\n".replace("'", '"')
    ).encode()
    files["environment.yml"] = environment(root, pins).encode()
    files["postBuild"] = b"#!/bin/bash\n# repo2docker runs this after environment.yml: make `course` importable.\nset -euo pipefail\npip install --no-deps -e .\n"
    files["README.md"] = readme(notebooks, org, repo, ref).encode()
    files[MARKER] = b"Made by `course publish`; it replaces everything here but .git when run again.\n"
    return files, notebooks


def main(outdir: Path, org: str, repo: str, ref: str, root: Path | None = None, console: Console | None = None) -> Path:
    console = console or Console()
    root = course_root(root)
    outdir = Path(outdir).resolve()
    if _under(outdir, root):
        raise CourseError(f"{outdir} is inside the course directory; publish outside it, e.g. ../mnist-cnn-student.")
    if outdir.exists() and any(outdir.iterdir()) and not (outdir / MARKER).exists():
        raise CourseError(f"{outdir} is not empty and was not made by `course publish`; choose an empty or new folder.")

    files, notebooks = tree(root, org, repo, ref)
    found = leaks(files, secret_lines(root))
    if found:
        listed = "; ".join(f"{name} holds {what}" for name, what in sorted(found.items()))
        raise CourseError(
            f"Nothing was published: {listed}. Students must never see solutions or hidden tests: run "
            "`course release` to regenerate release/ from source/, and keep solution code out of the student modules."
        )

    if outdir.exists():
        for entry in outdir.iterdir():
            if entry.name != ".git":  # keep the repository it is pushed from
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    outdir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = outdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (outdir / "postBuild").chmod(0o755)
    console.print(f"Published {len(notebooks)} notebook(s) to {outdir}")
    for notebook in notebooks:
        console.print(f"  {notebook}: {binder_url(org, repo, ref, notebook)}")
    return outdir


def _under(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False

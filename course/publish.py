"""`course publish OUTDIR`: the student-facing tree, ready to push to a public repository and launch on Binder.

It holds the release notebooks, the student part of the `course` package (never course/grading, the command
line or anything with solutions or hidden tests), a repo2docker environment (environment.yml + postBuild) and a
README with a Binder badge per notebook.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from urllib.parse import quote

import yaml
from rich.console import Console

from .coursedir import CourseError, course_root  # noqa: F401  (CourseError is part of this module's API)

# The modules students' notebooks import; everything else in course/ is for instructors.
STUDENT_MODULES = ("__init__.py", "data.py", "plots.py", "checks.py", "selfcheck.py")
# What the notebooks need at run time on Binder; grading tools stay out to keep the image small.
STUDENT_REQUIREMENTS = ("tensorflow-cpu", "keras", "numpy", "pandas", "matplotlib", "seaborn", "jupyterlab", "ipykernel")
MARKER = ".course-publish"
BINDER = "https://mybinder.org"


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


def main(outdir: Path, org: str, repo: str, ref: str, root: Path | None = None, console: Console | None = None) -> Path:
    console = console or Console()
    root = course_root(root)
    outdir = Path(outdir).resolve()
    if _under(outdir, root):
        raise CourseError(f"{outdir} is inside the course directory; publish outside it, e.g. ../mnist-cnn-student.")
    if outdir.exists() and any(outdir.iterdir()):
        if not (outdir / MARKER).exists():
            raise CourseError(f"{outdir} is not empty and was not made by `course publish`; choose an empty or new folder.")
        for entry in outdir.iterdir():
            if entry.name != ".git":  # keep the repository it is pushed from
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    outdir.mkdir(parents=True, exist_ok=True)

    notebooks = []
    for assignment in sorted(path for path in (root / "release").iterdir() if path.is_dir()):
        for notebook in sorted(assignment.glob("*.ipynb")):
            target = outdir / assignment.name / notebook.name
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(notebook, target)
            notebooks.append(f"{assignment.name}/{notebook.name}")
    if not notebooks:
        raise CourseError(f"No notebooks under {root / 'release'}: run `course release` first.")
    (outdir / "course").mkdir()
    for module in STUDENT_MODULES:
        shutil.copyfile(root / "course" / module, outdir / "course" / module)
    pins = student_pins(root)
    (outdir / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "mnist-cnn-course-student"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = {pins!r}\n\n[tool.setuptools]\npackages = [\"course\"]\n".replace("'", '"')
    )
    (outdir / "environment.yml").write_text(environment(root, pins))
    postbuild = outdir / "postBuild"
    postbuild.write_text("#!/bin/bash\n# repo2docker runs this after environment.yml: make `course` importable.\nset -euo pipefail\npip install --no-deps -e .\n")
    postbuild.chmod(0o755)
    (outdir / "README.md").write_text(readme(notebooks, org, repo, ref))
    (outdir / MARKER).write_text("Made by `course publish`; it replaces everything here but .git when run again.\n")
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

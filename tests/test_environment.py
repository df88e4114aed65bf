"""The Binder environment and the pip install pin the same versions."""

import tomllib

import yaml

from conftest import ROOT


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(requirement.split("==") for requirement in project["dependencies"])


def environment_pins() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    return dict(requirement.split("==") for requirement in pip_section)


def test_every_runtime_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    unpinned = [requirement for requirement in project["dependencies"] if "==" not in requirement]
    assert not unpinned, f"pin these in pyproject.toml with ==: {unpinned}"


def test_environment_yml_pins_match_pyproject():
    assert environment_pins() == pyproject_pins()


def test_environment_python_is_allowed_by_pyproject():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(item for item in environment["dependencies"] if isinstance(item, str) and item.startswith("python="))
    assert python == "python=3.11"


def test_lock_file_agrees_with_the_pins():
    locked = dict(
        line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line
    )
    normalise = lambda name: name.lower().replace("_", "-")
    locked = {normalise(name): version for name, version in locked.items()}
    for name, version in pyproject_pins().items():
        assert locked.get(normalise(name)) == version, f"requirements.lock has {name}=={locked.get(normalise(name))}"

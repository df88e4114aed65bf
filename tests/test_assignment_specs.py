"""Every graded assignment is its notebook and its spec, and the two agree; the grading core names no assignment.

Run on every assignment with a spec in course/assignments/, so a new assignment is checked by adding it.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from conftest import ROOT
from course import spec as specs
from course.grading.preprocessors import HIDDEN_BEGIN, is_test_cell
from course.sandboxed import inputs
from course.student.selfcheck import self_checks

ASSIGNMENTS = sorted(path.parent.name for path in (ROOT / "course" / "assignments").glob("*/__init__.py"))
GRADING_CORE = [ROOT / "course" / "spec.py", *sorted((ROOT / "course" / "grading").glob("*.py")),
                *sorted((ROOT / "course" / "sandboxed").glob("*.py"))]


def source_cells(name: str):
    return nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4).cells


def graded_cells(name: str) -> dict[str, tuple[float, bool]]:
    """grade_id -> (points, visible) of every test cell of the source notebook."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: (float(cell.metadata["nbgrader"]["points"]), HIDDEN_BEGIN not in cell.source)
        for cell in source_cells(name) if is_test_cell(cell)
    }


def test_every_graded_notebook_has_a_spec_and_every_spec_a_notebook():
    graded = sorted(path.parent.name for path in (ROOT / "source").glob("*/*.ipynb") if graded_cells(path.parent.name))
    assert graded == ASSIGNMENTS
    assert len(ASSIGNMENTS) >= 2


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_each_graded_cell_has_exactly_one_test_with_its_points_and_visibility(name):
    spec = specs.load(name)
    ids = [test.grade_id for test in spec.tests]
    assert len(ids) == len(set(ids)), "a grade id is judged twice"
    declared = {test.grade_id: (float(test.points), test.visible) for test in spec.tests}
    assert declared == graded_cells(name)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_visible_tests_are_the_student_facing_checks_the_notebook_runs(name):
    spec, cells = specs.load(name), {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in source_cells(name)}
    for test in spec.tests:
        module = test.check.__module__
        if test.visible:
            assert module.startswith("course.student."), f"{test.grade_id}: a visible test's check must be published"
            assert f"{test.check.__name__}(" in cells[test.grade_id].source or test.check.__name__.startswith("history_"), test.grade_id
        else:
            assert module.startswith("course.assignments."), f"{test.grade_id}: a hidden check must stay with the instructor"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_spec_names_real_cells_functions_and_inputs(name):
    spec = specs.load(name)
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in source_cells(name) if cell.cell_type == "code"}
    solutions = {grade_id for grade_id, cell in cells.items() if cell.metadata.get("nbgrader", {}).get("solution")}
    assert solutions == set(spec.functions), "each solution cell is one function students write, named by its grade id"
    for grade_id in solutions:
        assert re.search(rf"^def {grade_id}\(", cells[grade_id].source, re.M), f"{grade_id}'s cell defines {grade_id}"
    for grade_id in spec.setup_cells:
        assert cells[grade_id].metadata["nbgrader"].get("locked"), f"setup cell {grade_id} must be locked"
        assert ".fit(" not in cells[grade_id].source, f"setup cell {grade_id} must not train"
    artifacts = {artifact.name for artifact in spec.artifacts}
    for test in spec.tests:
        assert test.on in set(spec.functions) | artifacts, f"{test.grade_id} is on {test.on}, which the spec does not define"
    for artifact in spec.artifacts:
        assert cells[artifact.after_cell].metadata["nbgrader"].get("locked"), artifact.after_cell
        assert {artifact.built_by, artifact.trained_by} - {None} <= set(spec.functions)
        assert set(artifact.record_tests) <= {test.grade_id for test in spec.tests_on(artifact.trained_by)}
    for call in spec.calls:
        for item in call.inputs:
            inputs.resolve(item.factory)  # raises InputError naming it
    assert spec.points == sum(points for points, _ in graded_cells(name).values())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_harness_gets_calls_only(name):
    spec = specs.load(name)
    plan = json.dumps(spec.harness_plan())
    for test in spec.tests:
        assert test.grade_id not in plan
    for threshold in spec.thresholds.values():
        assert threshold.chosen not in plan


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_function_with_a_visible_test_has_a_self_check(name):
    spec = specs.load(name)
    with_visible = {test.on for test in spec.tests if test.visible and test.on in spec.functions}
    assert with_visible <= set(self_checks())


def test_the_grading_core_names_no_assignment_function_grade_id_or_variable():
    names = set()
    for name in ASSIGNMENTS:
        spec = specs.load(name)
        names |= set(spec.functions) | {test.grade_id for test in spec.tests} | set(spec.setup_cells) | {name}
        names |= {artifact.after_cell for artifact in spec.artifacts}
    found = {}
    for path in GRADING_CORE:
        text = path.read_text()
        for word in names:
            # a setup cell's id may be an English word ("imports"): as an id it is quoted
            pattern = rf"['\"]{re.escape(word)}['\"]" if word.isalpha() else rf"\b{re.escape(word)}\b"
            if re.search(pattern, text):
                found.setdefault(str(path.relative_to(ROOT)), []).append(word)
    assert found == {}


def test_a_missing_spec_says_where_to_write_it():
    with pytest.raises(specs.SpecError, match=r"course/assignments/no_such_assignment/__init__.py"):
        specs.load("no_such_assignment")


def _imports_of_course_modules() -> dict[str, set[str]]:
    """module -> the course modules it imports (at the top or inside a function), read from the source."""
    import ast

    graph = {}
    for path in sorted((ROOT / "course").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        graph[module] = {name for name in found if name.split(".")[0] == "course"}
    modules = set(graph)
    return {module: {name for name in imported if name in modules and name != module} for module, imported in graph.items()}


def test_the_student_package_and_the_sandboxed_side_import_only_downwards():
    graph = _imports_of_course_modules()
    for module, imported in graph.items():
        if module.startswith("course.student"):
            assert all(name.startswith("course.student") for name in imported), (module, imported)
        if module.startswith("course.sandboxed"):
            assert all(name.startswith(("course.student", "course.sandboxed")) for name in imported), (module, imported)


def test_course_modules_import_each_other_in_no_circle():
    graph = _imports_of_course_modules()
    # a package's __init__ is imported by everything under it: only edges between modules count
    edges = {module: {name for name in imported if not module.startswith(name + ".")} for module, imported in graph.items()}
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for name in sorted(edges[module]):
            if state.get(name) == "open":
                cycles.append(path[path.index(name):] + [name] if name in path else [module, name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []

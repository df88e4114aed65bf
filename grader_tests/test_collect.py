"""`course collect` on an LMS bulk download: who lands where, what is reported, and whose grades they become."""

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from rich.console import Console

from conftest import ASSIGNMENT, ROOT, cell_scores, make_course, run_course
from course import collect as collect_module
from course.coursedir import CourseError

LMS = ROOT / "grader_tests" / "lms"
EXPECTED = json.loads((LMS / "expected.json").read_text())
ARCHIVE = LMS / "mnist_cnn_lms_export.zip"
MAPPING = LMS / "lms_id_mapping.csv"


def collect(course):
    return run_course(course, "collect", ASSIGNMENT, str(ARCHIVE), "--mapping", str(MAPPING))


def report_rows(course):
    with open(course / "downloaded" / ASSIGNMENT / "collect_report.csv") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("lms"))
    return course, collect(course)


def test_exactly_the_right_students_land_with_the_right_file(collected):
    course, _ = collected
    submitted = course / "submitted"
    assert sorted(path.name for path in submitted.iterdir()) == sorted(EXPECTED["filed"])
    extracted = course / "downloaded" / ASSIGNMENT / "extracted" / ARCHIVE.stem
    for student, expected in EXPECTED["filed"].items():
        folder = submitted / student / ASSIGNMENT
        assert sorted(path.name for path in folder.iterdir()) == [f"{ASSIGNMENT}.ipynb", "timestamp.txt"]
        upload = extracted / expected["file"]
        content = zipfile.ZipFile(upload).read(expected["inner"]) if "inner" in expected else upload.read_bytes()
        assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == content, student
        assert (folder / "timestamp.txt").read_text() == expected["timestamp"]


def test_every_file_is_reported(collected):
    course, result = collected
    rows = report_rows(course)
    expected_files = {entry["file"] for entry in EXPECTED["filed"].values()} | set(EXPECTED["superseded"]) | set(EXPECTED["unfiled"])
    assert set(rows) == expected_files
    for student, expected in EXPECTED["filed"].items():
        assert rows[expected["file"]]["outcome"] == "filed" and rows[expected["file"]]["student"] == student
    assert "renamed by the student (My homework (final).ipynb)" in rows[EXPECTED["filed"]["s003"]["file"]]["detail"]
    assert "was in the sub-folder late/" in rows[EXPECTED["filed"]["s004"]["file"]]["detail"]
    assert "renamed" not in rows[EXPECTED["filed"]["s001"]["file"]]["detail"]
    inner = EXPECTED["filed"]["s011"]["inner"]
    assert f"the notebook {inner} taken out of the student's zip" in rows[EXPECTED["filed"]["s011"]["file"]]["detail"]
    for name, reason in EXPECTED["unfiled"].items():
        assert rows[name]["outcome"] == "unfiled" and reason in rows[name]["detail"], rows[name]
    assert "6 file(s) not filed" in result.stdout


def test_nothing_is_dropped(collected):
    course, _ = collected
    downloaded = course / "downloaded" / ASSIGNMENT
    for name in EXPECTED["unfiled"]:
        assert (downloaded / "unfiled" / name).is_file()
    for name in EXPECTED["superseded"]:
        row = report_rows(course)[name]
        assert row["outcome"] == "superseded"
        assert (downloaded / "superseded" / "s005" / f"older-upload_{name}").is_file()


def test_collecting_again_keeps_the_earlier_submissions(tmp_path):
    course = make_course(tmp_path / "course")
    collect(course)
    first = (course / "submitted" / "s001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    collect(course)
    kept = list((course / "downloaded" / ASSIGNMENT / "superseded" / "s001").glob(f"previously-collected_*/{ASSIGNMENT}.ipynb"))
    assert len(kept) == 1 and kept[0].read_bytes() == first
    assert (course / "submitted" / "s001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == first


def test_grades_after_collect_belong_to_the_right_students(collected):
    course, _ = collected
    run_course(course, "grade", ASSIGNMENT)
    for student, expected in EXPECTED["filed"].items():
        assert sum(cell_scores(course, student).values()) == expected["score"], student


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.zip"], "does not exist"),
        ([str(MAPPING)], "is not a zip archive"),
        ([], "Give the LMS bulk download"),
        ([str(ARCHIVE), "--mapping", str(ARCHIVE)], "must be a CSV with the columns lms_id and student_id"),
    ],
)
def test_bad_input_is_named(tmp_path, arguments, message):
    course = make_course(tmp_path / "course")
    result = run_course(course, "collect", ASSIGNMENT, *arguments, check=False)
    assert result.returncode == 2 and message in result.stdout.replace("\n", "")


def test_lms_fixture_is_current(tmp_path):
    import build_lms_export

    saved = {path.name: path.read_bytes() for path in LMS.iterdir()}
    try:
        build_lms_export.main()
        assert {path.name: path.read_bytes() for path in LMS.iterdir()} == saved, "run python grader_tests/build_lms_export.py"
    finally:
        for name, content in saved.items():
            (LMS / name).write_bytes(content)


# --- hostile downloads ---------------------------------------------------------------------------------------------
# Each test builds its download with zipfile and collects it into a bare course directory (config, source, release:
# nothing that grades), so they take a second or two each.

MB = 2**20
with zipfile.ZipFile(ARCHIVE) as _fixture:
    ALICE = _fixture.read("alice_1001_20261120T101500_mnist_cnn.ipynb")
    BOB = _fixture.read("bob_1002_20261120T111500_mnist_cnn.ipynb")


def bare_course(path: Path, extra_config: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "nbgrader_config.py").write_text(
        "import os\nc = get_config()\nc.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
        f'c.CourseDirectory.course_id = "mnist-cnn"\n{extra_config}\n'
    )
    import shutil

    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    return path


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def download(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(zipped(files))
    return path


def collect_quietly(course: Path, archive: Path, mapping: dict[str, str] | None = None):
    mapping_file = None
    if mapping:
        mapping_file = course / "roster.csv"
        mapping_file.write_text("lms_id,student_id\n" + "".join(f"{k},{v}\n" for k, v in mapping.items()))
    console = Console(file=io.StringIO(), width=300)
    outcomes = collect_module.main(ASSIGNMENT, archive, mapping_file, root=course, console=console)
    return {outcome.file: outcome for outcome in outcomes}, console.file.getvalue()


def filed_notebook(course: Path, student: str) -> bytes:
    return (course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()


def files_under(folder: Path) -> list[Path]:
    return [Path(top, name) for top, _, names in os.walk(folder) for name in names]


def test_a_zip_upload_is_its_uploaders_material_never_another_students(tmp_path):
    course = bare_course(tmp_path / "course")
    archive = download(tmp_path / "lms.zip", {
        "alice_1001_20261120T101500_mnist_cnn.ipynb": ALICE,
        # named as alice's newer upload, inside mallory's zip: nbgrader used to file it as alice's
        "mallory_1011_20261120T120000_mnist_cnn.zip": zipped({"alice_1001_20261121T000000_mnist_cnn.ipynb": BOB}),
        "oscar_1012_20261120T120000_mnist_cnn.zip": zipped({"a.ipynb": ALICE, "b/alice_1001_20261122T000000_x.ipynb": BOB}),
    })
    outcomes, _ = collect_quietly(course, archive)
    assert filed_notebook(course, "alice") == ALICE
    assert not (course / "downloaded" / ASSIGNMENT / "superseded").exists()
    assert filed_notebook(course, "mallory") == BOB
    assert outcomes["mallory_1011_20261120T120000_mnist_cnn.zip"].student == "mallory"
    assert "taken out of the student's zip" in outcomes["mallory_1011_20261120T120000_mnist_cnn.zip"].detail
    oscar = outcomes["oscar_1012_20261120T120000_mnist_cnn.zip"]
    assert (oscar.student, oscar.outcome) == ("oscar", "unfiled") and "2 notebooks" in oscar.detail
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["alice", "mallory"]


def nested(levels: int, fan_out: int) -> bytes:
    """Zips nested `levels` deep, `fan_out` entries each: fan_out ** levels files once all unpacked."""
    content = zipped({f"f{index}.txt": b"x" for index in range(fan_out)})
    for _ in range(levels - 1):
        content = zipped({f"z{index}.zip": content for index in range(fan_out)})
    return content


def zip_bomb(uncompressed: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"{ASSIGNMENT}.ipynb")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as handle:
            for _ in range(uncompressed // MB):
                handle.write(bytes(MB))
    return buffer.getvalue()


def test_nested_zips_and_zip_bombs_are_refused_before_unpacking(tmp_path):
    course = bare_course(tmp_path / "course")
    deep, bomb = nested(4, 16), zip_bomb(250 * MB)  # 65,536 files; 250 MB from a quarter of a megabyte
    assert len(deep) < 20_000 and len(bomb) < 500_000
    archive = download(tmp_path / "lms.zip", {
        "alice_1001_20261120T101500_mnist_cnn.ipynb": ALICE,
        "nina_1013_20261120T120000_mnist_cnn.zip": deep,
        "boris_1014_20261120T120000_mnist_cnn.zip": bomb,
    })
    outcomes, _ = collect_quietly(course, archive)
    assert filed_notebook(course, "alice") == ALICE  # the class goes on
    nina, boris = outcomes["nina_1013_20261120T120000_mnist_cnn.zip"], outcomes["boris_1014_20261120T120000_mnist_cnn.zip"]
    assert nina.outcome == "unfiled" and "nested 3 deep" in nina.detail and "c.Intake.max_nesting" in nina.detail
    assert boris.outcome == "unfiled" and "250.0 MB" in boris.detail and "c.Intake.max_total_bytes" in boris.detail
    written = files_under(course / "downloaded") + files_under(course / "submitted")
    assert len(written) < 20 and sum(path.stat().st_size for path in written) < 2 * MB
    # the refused uploads are kept as they came, unopened
    assert (course / "downloaded" / ASSIGNMENT / "unfiled" / "boris_1014_20261120T120000_mnist_cnn.zip").read_bytes() == bomb


def test_caps_are_set_in_nbgrader_config(tmp_path):
    course = bare_course(tmp_path / "course", "c.Intake.max_upload_bytes = 20_000\nc.Intake.max_entries = 3")
    archive = download(tmp_path / "lms.zip", {"alice_1001_20261120T101500_mnist_cnn.ipynb": ALICE, "x.txt": b"x"})
    outcomes, _ = collect_quietly(course, archive)
    alice = outcomes["alice_1001_20261120T101500_mnist_cnn.ipynb"]
    assert alice.outcome == "unfiled" and "c.Intake.max_upload_bytes" in alice.detail and "not kept" in alice.detail
    too_many = download(tmp_path / "many.zip", {f"f{index}.txt": b"x" for index in range(4)})
    with pytest.raises(CourseError, match="holds 4 files.*c.Intake.max_entries"):
        collect_quietly(course, too_many)


def test_long_names_never_stop_the_class(tmp_path):
    course = bare_course(tmp_path / "course")
    older = "erin_1005_20261120T090000_" + "x" * (243 - len("erin_1005_20261120T090000_") - len(".ipynb")) + ".ipynb"
    too_long = "zoe_1015_20261120T090000_" + "y" * 300 + ".ipynb"
    assert len(older.encode()) == 243
    archive = download(tmp_path / "lms.zip", {
        older: BOB,
        "erin_1005_20261120T190000_mnist_cnn.ipynb": ALICE,
        too_long: ALICE,
        "bob_1002_20261120T111500_mnist_cnn.ipynb": BOB,
    })
    result = run_course(course, "collect", ASSIGNMENT, str(archive), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert filed_notebook(course, "erin") == ALICE and filed_notebook(course, "bob") == BOB
    rows = report_rows(course)
    assert rows[older]["outcome"] == "superseded"
    [kept] = (course / "downloaded" / ASSIGNMENT / "superseded" / "erin").iterdir()
    assert kept.read_bytes() == BOB and len(kept.name.encode()) <= 255 and kept.name.startswith("older-upload_erin_1005")
    assert rows[too_long]["outcome"] == "unfiled" and f"its name is {len(too_long)} bytes long" in rows[too_long]["detail"]


def test_nothing_is_written_outside_submitted_and_downloaded(tmp_path):
    course = bare_course(tmp_path / "course")
    archive = download(tmp_path / "lms.zip", {
        ".._1001_20261120T100000_mnist_cnn.ipynb": ALICE,  # student '..': submitted/../mnist_cnn/
        "../../evil_1002_20261120T100000_mnist_cnn.ipynb": ALICE,
        "/tmp/abs_1003_20261120T100000_mnist_cnn.ipynb": ALICE,
        "s_1004_20261120T100000_mnist_cnn.ipynb": ALICE,  # mapped to an unsafe id
        "bob_1002_20261120T111500_mnist_cnn.ipynb": BOB,
    })
    outcomes, _ = collect_quietly(course, archive)
    assert sorted(path.name for path in course.iterdir()) == ["downloaded", "nbgrader_config.py", "release", "source", "submitted"]
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["bob", "s"]
    dots = outcomes[".._1001_20261120T100000_mnist_cnn.ipynb"]
    assert dots.outcome == "unfiled" and "refused: The student id '..' starts with '.'" in dots.detail
    for name in ("../../evil_1002_20261120T100000_mnist_cnn.ipynb", "/tmp/abs_1003_20261120T100000_mnist_cnn.ipynb"):
        assert outcomes[name].outcome == "unfiled" and "not kept" in outcomes[name].detail
    assert not (tmp_path / "evil_1002_20261120T100000_mnist_cnn.ipynb").exists()

    course = bare_course(tmp_path / "mapped")
    outcomes, _ = collect_quietly(course, archive, {"1002": "bob", "1004": "../../x"})
    assert "The student id '../../x' starts with '.'" in outcomes["s_1004_20261120T100000_mnist_cnn.ipynb"].detail
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["bob"]
    assert not (tmp_path / "x").exists()


def test_unsafe_and_lookalike_student_ids_are_reported(tmp_path):
    course = bare_course(tmp_path / "course")
    (course / "submitted" / "\u0430lice" / ASSIGNMENT).mkdir(parents=True)  # Cyrillic а, e.g. from the exchange
    archive = download(tmp_path / "lms.zip", {
        "a_1001_20261120T100000_mnist_cnn.ipynb": ALICE,
        "b_1002_20261120T100000_mnist_cnn.ipynb": BOB,
        "c_1003_20261120T100000_mnist_cnn.ipynb": BOB,
        "d_1004_20261120T100000_mnist_cnn.ipynb": BOB,
    })
    outcomes, text = collect_quietly(course, archive, {"1001": "alice", "1002": "s001", "1003": "s00l", "1004": "a[b]"})
    assert "looks like '\u0430lice' (already in submitted/)" in outcomes["a_1001_20261120T100000_mnist_cnn.ipynb"].detail
    assert "looks like 's00l' (filed in this collection)" in outcomes["b_1002_20261120T100000_mnist_cnn.ipynb"].detail
    refused = outcomes["d_1004_20261120T100000_mnist_cnn.ipynb"]
    assert refused.outcome == "unfiled" and "The student id 'a[b]' has characters other than" in refused.detail
    assert (course / "downloaded" / ASSIGNMENT / "unfiled" / "d_1004_20261120T100000_mnist_cnn.ipynb").is_file()
    assert "3 filed student id(s) look like another one" in text


def test_the_report_csv_cannot_run_formulas_and_odd_names_print(tmp_path):
    course = bare_course(tmp_path / "course")
    formula = '=HYPERLINK("http://evil.example","x").txt'
    archive = download(tmp_path / "lms.zip", {
        "bob_1002_20261120T111500_mnist_cnn.ipynb": BOB, formula: b"x", "[/]notes.txt": b"x", "@SUM(1).txt": b"x",
    })
    result = run_course(course, "collect", ASSIGNMENT, str(archive), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[/]notes.txt" in result.stdout
    with open(course / "downloaded" / ASSIGNMENT / "collect_report.csv", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert "'" + formula in cells and "'@SUM(1).txt" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def test_exchange_folders_with_unsafe_or_lookalike_ids_are_named(tmp_path):
    for name in ("alice", "\u0430lice", "a[b]", "bob"):
        (tmp_path / "submitted" / name / ASSIGNMENT).mkdir(parents=True)
    warnings = collect_module.id_warnings(tmp_path / "submitted", ASSIGNMENT)
    assert len(warnings) == 3
    assert any("'a[b]' has characters other than" in warning and "will not grade it" in warning for warning in warnings)
    assert any("'\u0430lice' has characters other than" in warning for warning in warnings)
    assert "The student ids 'alice' and '\u0430lice' look alike" in warnings[-1]

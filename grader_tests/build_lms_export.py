"""Build grader_tests/lms/: a zip shaped like an LMS bulk download, its id mapping and what collecting it must give.

Every file is named `<student>_<lmsid>_<timestamp>_<original name>` as the LMS exports them. The notebooks
answer a few functions each and never train (none answers both get_model and train_model), so grading them takes seconds and each student's
score is distinct: a misattributed notebook shows up as a wrong score.

    python grader_tests/build_lms_export.py
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import nbformat

import build_submissions

ROOT = Path(__file__).resolve().parents[1]
LMS = ROOT / "grader_tests" / "lms"
UNANSWERED = dict.fromkeys(build_submissions.FUNCTIONS)  # None: left as released


def notebook_answering(*functions: str, **replacements: str) -> bytes:
    answers = {**UNANSWERED, **{name: build_submissions.reference_answers()[name] for name in functions}, **replacements}
    return nbformat.writes(build_submissions.build(answers)).encode()


def zipped(files: dict[str, bytes]) -> bytes:
    """A zip of `files`, byte-identical each time it is built."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 21, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def files() -> dict[str, bytes]:
    tutorial = (ROOT / "release" / "cnn_tutorial" / "cnn_tutorial.ipynb").read_bytes()
    scale_only = notebook_answering("scale_mnist_data")
    return {
        # plain uploads
        "alice_1001_20261120T101500_mnist_cnn.ipynb": (build_submissions.SUBMISSIONS / "passes_scale_and_model_with_input_shape_warning.ipynb").read_bytes(),
        "bob_1002_20261120T111500_mnist_cnn.ipynb": notebook_answering("scale_mnist_data", "get_model", "compile_model", "evaluate_model"),
        # renamed by the student
        "carol_1003_20261120T120000_My homework (final).ipynb": scale_only,
        # nested in a sub-folder
        "late/dave_1004_20261121T080000_mnist_cnn.ipynb": notebook_answering("scale_mnist_data", "train_model"),
        # two uploads: the newer must win, the older must be kept aside
        "erin_1005_20261120T090000_mnist_cnn.ipynb": notebook_answering("compile_model"),
        "erin_1005_20261120T190000_mnist_cnn.ipynb": notebook_answering("scale_mnist_data", "train_model", "evaluate_model"),
        # a zip upload holding a notebook named as another student's newer upload: it is mallory's, never alice's
        "mallory_1011_20261120T130000_mnist_cnn.zip": zipped({"alice_1001_20261121T000000_mnist_cnn.ipynb": notebook_answering()}),
        # problems
        "frank_1006_20261120T100000_mnist_cnn.pdf": b"%PDF-1.4 printed notebook",
        "grace_1007_20261120T100000_mnist_cnn.ipynb": tutorial,
        "heidi_1008_20261120T100000_mnist_cnn.ipynb": b"",
        "ivan_1009_20261120T100000_mnist_cnn.ipynb": scale_only[: len(scale_only) // 2],
        "judy_1010_20261120T100000_mnist_cnn.ipynb": scale_only,  # LMS id not in the mapping
        "notes.txt": b"exported by the LMS",
    }


MAPPING = {"1001": "s001", "1002": "s002", "1003": "s003", "1004": "s004", "1005": "s005",
           "1006": "s006", "1007": "s007", "1008": "s008", "1009": "s009", "1011": "s011"}

# What collecting must give: student -> (score after grading, upload that must be filed, and the notebook inside it
# when the upload is a zip), and each problem file.
EXPECTED = {
    "filed": {
        "s001": {"score": 10, "file": "alice_1001_20261120T101500_mnist_cnn.ipynb", "timestamp": "2026-11-20 10:15:00+00:00"},
        "s002": {"score": 16, "file": "bob_1002_20261120T111500_mnist_cnn.ipynb", "timestamp": "2026-11-20 11:15:00+00:00"},
        "s003": {"score": 4, "file": "carol_1003_20261120T120000_My homework (final).ipynb", "timestamp": "2026-11-20 12:00:00+00:00"},
        "s004": {"score": 7, "file": "late/dave_1004_20261121T080000_mnist_cnn.ipynb", "timestamp": "2026-11-21 08:00:00+00:00"},
        "s005": {"score": 9, "file": "erin_1005_20261120T190000_mnist_cnn.ipynb", "timestamp": "2026-11-20 19:00:00+00:00"},
        "s011": {"score": 0, "file": "mallory_1011_20261120T130000_mnist_cnn.zip", "timestamp": "2026-11-20 13:00:00+00:00",
                 "inner": "alice_1001_20261121T000000_mnist_cnn.ipynb"},
    },
    "superseded": {"erin_1005_20261120T090000_mnist_cnn.ipynb": "an older upload"},
    "unfiled": {
        "frank_1006_20261120T100000_mnist_cnn.pdf": "not a notebook (.pdf)",
        "grace_1007_20261120T100000_mnist_cnn.ipynb": "not this assignment's notebook",
        "heidi_1008_20261120T100000_mnist_cnn.ipynb": "empty file",
        "ivan_1009_20261120T100000_mnist_cnn.ipynb": "not a readable notebook",
        "judy_1010_20261120T100000_mnist_cnn.ipynb": "LMS id 1010 is not in the id mapping",
        "notes.txt": "file name does not follow",
    },
}


def main():
    LMS.mkdir(parents=True, exist_ok=True)
    (LMS / "mnist_cnn_lms_export.zip").write_bytes(zipped(files()))
    (LMS / "lms_id_mapping.csv").write_text("lms_id,student_id\n" + "".join(f"{k},{v}\n" for k, v in MAPPING.items()))
    (LMS / "expected.json").write_text(json.dumps(EXPECTED, indent=2) + "\n")
    print(f"wrote {LMS.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

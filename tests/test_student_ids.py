"""Student ids: which are safe as folder names, and which look like one another."""

import pytest

from course.student_ids import id_problem, lookalikes, visible


@pytest.mark.parametrize("student_id", ["s001", "alice", "Bob_Smith-2", "a.b", "-rf", "x" * 64, "0"])
def test_safe_ids(student_id):
    assert id_problem(student_id) is None


@pytest.mark.parametrize(
    "student_id, says",
    [
        ("", "is empty"),
        ("..", "'..' starts with '.'"),
        (".hidden", "'.hidden' starts with '.'"),
        ("x" * 65, "is 65 characters long; at most 64"),
        ("a[b]", "'a[b]' has characters other than ASCII letters, digits, '-', '_' and '.' ('[', ']')"),
        ("a/b", "('/')"),
        ("s 001", "(' ')"),
        ("@SUM(1)", "'@SUM(1)' has characters"),
        ("\u0430lice", "'\u0430lice' has characters"),  # Cyrillic а
        ("caf\udce9", "'caf\\xe9' is not valid UTF-8"),  # as os.scandir returns an undecodable name
        ("tab\there", "'tab\\x09here'"),
        ("a*", "('*')"),
    ],
)
def test_unsafe_ids_are_refused_with_a_sentence_naming_them(student_id, says):
    problem = id_problem(student_id)
    assert problem and says in problem and problem.endswith(".")


def test_visible_escapes_what_would_hide():
    assert visible("caf\udce9") == "caf\\xe9"
    assert visible("a\nb\u200bc") == "a\\x0ab\\u200bc"
    assert visible("plain é") == "plain é"


def test_lookalikes():
    ids = ["alice", "\u0430lice", "s001", "s00l", "bob", "b\u200bob", "\uff42ob", "carol", "Alice", "rnary", "mary", "dave"]
    pairs = lookalikes(ids)
    assert ("alice", "\u0430lice") in pairs  # Cyrillic а
    assert ("s001", "s00l") in pairs  # l for 1
    assert ("bob", "b\u200bob") in pairs  # an invisible character
    assert ("bob", "\uff42ob") in pairs  # full-width b (NFKC)
    assert ("mary", "rnary") in pairs  # rn for m
    assert not any("carol" in pair or "dave" in pair for pair in pairs)
    assert ("Alice", "alice") not in pairs  # case shows
    assert all(first < second for first, second in pairs) and pairs == sorted(pairs)
    assert lookalikes(["alice", "alice"]) == []

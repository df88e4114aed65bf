"""Which student ids the kit will use as folder names, and which ids look alike.

A student id becomes a folder (`submitted/<id>/`, `autograded/<id>/`, `feedback/<id>/`), a path in nbgrader's glob
patterns, a gradebook key and a CSV cell. Only a small safe set is accepted everywhere: ASCII letters, digits,
`-`, `_` and `.` (never first), at most 64 characters. Anything else is refused with a sentence that says why.

Ids inside the safe set can still look like one another (`s001` and `s00l`), and ids outside it (from an exchange
or a roster) can look identical to a safe one (Cyrillic `а` for Latin `a`): `lookalikes` finds such pairs so that
they are reported, never silently merged.

No PyPI package is used for the confusables: a pinned dependency would have to enter pyproject.toml, the lock
file and environment.yml, and the small table below (after NFKC) covers the scripts a roster mixes up in practice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_LENGTH = 64
SAFE_ID = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")


def visible(text: str) -> str:
    """`text` with what a terminal or spreadsheet would hide or mangle written out as escapes.

    Undecodable bytes that Python keeps as surrogate escapes (``os.scandir`` on a non-UTF-8 name) become ``\\xNN``,
    control and invisible characters become ``\\xNN``/``\\uNNNN``; everything else is left as it is.
    """
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape of the byte code - 0xDC00
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif char == "\\":
            out.append("\\\\")
        elif not char.isprintable():
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def _shown(student_id: str) -> str:
    shown = visible(student_id)
    return f"'{shown[:80]}…'" if len(shown) > 80 else f"'{shown}'"


def id_problem(student_id: str) -> str | None:
    """Why `student_id` cannot be used as a student folder, as a sentence naming it; None when it is safe."""
    if not isinstance(student_id, str):
        return f"The student id {student_id!r} is not text."
    if not student_id:
        return "The student id is empty."
    if len(student_id) > MAX_LENGTH:
        return f"The student id {_shown(student_id)} is {len(student_id)} characters long; at most {MAX_LENGTH} are allowed."
    if student_id.startswith("."):
        return (f"The student id {_shown(student_id)} starts with '.', which would make a hidden folder "
                "or point at the folder above.")
    if any(0xD800 <= ord(char) <= 0xDFFF for char in student_id):
        return (f"The student id {_shown(student_id)} is not valid UTF-8 (the undecodable bytes are shown as \\xNN); "
                "rename the folder.")
    bad = sorted({char for char in student_id if not re.fullmatch(r"[A-Za-z0-9_.\-]", char)})
    if bad:
        listed = ", ".join(f"'{visible(char)}'" for char in bad[:8]) + (", …" if len(bad) > 8 else "")
        return (f"The student id {_shown(student_id)} has characters other than ASCII letters, digits, '-', '_' "
                f"and '.' ({listed}).")
    return None


# Characters that render like a Latin letter, digit or '-' in common fonts, after NFKC (which already folds
# full-width, mathematical and ligature forms). Cyrillic, Greek, Armenian and a few Latin variants; the ASCII
# look-alikes of Unicode's confusables (0/O, 1/l/I/|) too.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
    "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "Ь": "b",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X",
    "У": "Y", "Ѕ": "S", "І": "l", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "Ӏ": "l", "З": "3",
    # Greek
    "ο": "o", "α": "a", "ν": "v", "ρ": "p", "ι": "i", "ϲ": "c", "ϳ": "j",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "l", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Armenian, and Latin letters that are not ASCII
    "օ": "o", "ս": "u", "ց": "g", "ɑ": "a", "ɡ": "g", "ı": "i", "ɩ": "i", "ʏ": "Y", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    "ꓲ": "l",
    # dashes and dots
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "−": "-", "﹣": "-", "⁃": "-", "·": ".", "‧": ".",
    # ASCII look-alikes
    "0": "O", "1": "l", "I": "l", "|": "l",
}
_MULTI = (("rn", "m"), ("vv", "w"), ("cl", "d"))
# Invisible characters: a name with them looks exactly like one without
_INVISIBLE = {"\u00ad", "\u034f", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\u2061",
              "\u2062", "\u2063", "\u2064", "\ufeff"}


def skeleton(text: str) -> str:
    """What `text` looks like, folded so that two strings that render alike get the same skeleton."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(_CONFUSABLES.get(char, char) for char in folded if char not in _INVISIBLE)
    for many, one in _MULTI:
        folded = folded.replace(many, one)
    return folded


def lookalikes(ids: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of different ids that look the same (Cyrillic 'а' for Latin 'a', 'l' for '1', invisible characters).

    Each pair is sorted, and the list too; an id is never paired with itself.
    """
    groups: dict[str, list[str]] = {}
    for student_id in dict.fromkeys(ids):
        groups.setdefault(skeleton(student_id), []).append(student_id)
    pairs = set()
    for members in groups.values():
        for index, first in enumerate(members):
            for second in members[index + 1:]:
                pairs.add(tuple(sorted((first, second))))
    return sorted(pairs)

"""CSV cells that a spreadsheet will show as text, never run as a formula.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice and
Google Sheets (CSV injection): a student folder named `=HYPERLINK(...)` would become a live link in grades.csv.
As OWASP recommends, such a cell gets a leading single quote, which spreadsheets show as text. Every CSV the kit
writes (`course export`, `course collect`'s report) passes its cells through `safe_csv_cell`. Numbers are left
alone: a negative score stays a number.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv_cell(value):
    """`value`, with a leading `'` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv_row(values: Iterable) -> list:
    return [safe_csv_cell(value) for value in values]

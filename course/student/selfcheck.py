"""Check one of your functions at any time, without training: ``check(scale_mnist_data)``.

It runs the same checks as the visible test cells, with the same messages. More properties are checked when
the notebook is graded; this does not reveal them.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from pathlib import Path

from . import checks


def self_checks() -> dict:
    """Every function a student writes -> its self-check: ``SELF_CHECKS`` of each ``*checks`` module here."""
    table = {}
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module.name.endswith("checks"):
            table.update(getattr(importlib.import_module(f"{__package__}.{module.name}"), "SELF_CHECKS", {}))
    return table


def check(function) -> None:
    """Print whether ``function`` passes the visible checks (nothing is returned, so a notebook shows only that)."""
    name = getattr(function, "__name__", None)
    table = self_checks()
    if name not in table:
        print(f"check() takes one of your functions: {', '.join(table)}; got {name or type(function).__name__}.")
        return
    started = time.perf_counter()
    try:
        table[name](function)
    except checks.CheckFailed as failure:
        print(f"✗ {name}: {failure}")
        return
    except NotImplementedError:
        print(f"✗ {name}: not written yet (replace `raise NotImplementedError()` with your code).")
        return
    except Exception as error:
        print(f"✗ {name} raised {type(error).__name__}: {error}")
        return
    print(f"✓ {name} passes the visible checks ({time.perf_counter() - started:.1f} s). More are checked when your notebook is graded.")

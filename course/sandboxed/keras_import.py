"""Keras (and with it TensorFlow) imported with Python's garbage collector paused, its objects then frozen.

Importing them makes some hundred thousand Python objects, and the collector, triggered by allocations, walks them
again and again while they are made: 0.45 of the 2.2 CPU-seconds of `import keras, tensorflow` on the grading
machine (docs/benchmarks.md, issue 20). Frozen afterwards (``gc.freeze``), they are never walked again either: they
live as long as the modules do anyway. The price: the 4,000 or so objects the import leaves unreachable in cycles
are frozen with them instead of freed (a collection to free them costs 0.18 CPU-s). The collector is on again for
everything after. Used where each submission's processes start: the kernel and the harness.
"""

from __future__ import annotations

import gc


def import_keras():
    """The keras module (None where it is not installed), imported as said above."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import keras
    except ImportError:
        return None
    finally:
        if was_enabled:
            gc.enable()
    gc.freeze()
    return keras

"""Imported first by the grading processes, to spare each of them 1.4 s of start-up.

nbgrader imports nbformat, which imports jsonschema, which on import compiles 38 grammars of rfc3987-syntax to check
the "iri" string format (measured: `python -X importtime -c "import course.grade"`). nbformat never checks string
formats, and grading validates nothing else with jsonschema, so these processes do without that checker:
jsonschema skips it when the module cannot be imported.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # None makes `import rfc3987_syntax` raise ImportError

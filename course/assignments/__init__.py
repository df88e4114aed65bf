"""One package per graded assignment, named like its folder in source/: its spec (``SPEC``, in ``__init__.py``) and
its hidden checks. Instructor-only: never published, never visible to a process that runs student code."""

"""Grading thresholds. Instructor-only: students never see this module.

MIN_TEST_ACCURACY was chosen with benchmarks/threshold_study.py (figures in docs/thresholds.md).
"""

MIN_TEST_ACCURACY = 0.97

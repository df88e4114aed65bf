"""Instructor-only grading: thresholds, nbgrader plugins and the grading pipeline. Never shipped to students."""

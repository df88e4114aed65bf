"""grader_tests of the mnist_confusion assignment: a package, so that pytest puts grader_tests/ (not this folder,
whose cases.py would shadow grader_tests/cases.py) on sys.path."""

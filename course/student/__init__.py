"""What students' notebooks import, and all that `course publish` ships of the package: the MNIST loader, the
plots, the visible checks and the self-check. It imports nothing else of ``course``, so it works on Binder where
nothing else of it exists."""

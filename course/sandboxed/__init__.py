"""Code the grader runs inside the sandbox, beside student code: nothing here is secret, and nothing it produces is trusted."""

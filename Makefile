# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline MNIST: use the shared copy beside the checkout when MNIST_PATH is not set.
SHARED_MNIST := $(abspath ../shared/data/mnist.npz)
ifeq ($(MNIST_PATH),)
ifneq ($(wildcard $(SHARED_MNIST)),)
export MNIST_PATH := $(SHARED_MNIST)
endif
endif

.PHONY: setup demo test benchmark clean

setup: $(STAMP)

# Re-installs only when the pins change, so a second `make setup` returns at once.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable ".[test]"
	touch $@

demo: setup
	$(BIN)/course demo

test: setup
	$(BIN)/python -m pytest --durations=25

benchmark: setup
	$(BIN)/python benchmarks/tutorial.py
	$(BIN)/python benchmarks/selfcheck_speed.py
	$(BIN)/python benchmarks/student_memory.py
	$(BIN)/python benchmarks/grading_overhead.py
	$(BIN)/python benchmarks/grading_throughput.py
	$(BIN)/python benchmarks/kernel_threads.py
	$(BIN)/python benchmarks/submission_cpu.py
	$(BIN)/python benchmarks/coordinator_scale.py
	$(BIN)/python benchmarks/dask_scale.py
	$(BIN)/python benchmarks/reverify_scale.py

clean:
	rm -rf $(VENV) build autograded/*/ feedback submitted gradebook.db grades.csv grades_*.csv

# mmsquad: `make demo` installs everything and runs the demo job;
# `make test` installs everything and runs the tests.
VENV ?= .venv
WHEELHOUSE ?=
PY := $(VENV)/bin/python
# One pytest-xdist worker per core (at most 4); a file stays on one worker.
PYTEST_ARGS ?= --numprocesses=auto --maxprocesses=4 --dist=loadfile \
	--no-loadscope-reorder --durations=25

.PHONY: install demo demo-underwater test bench compat experiment

install:
	bash tools/misc/install.sh --venv $(VENV) $(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE))

demo: install
	$(PY) tools/misc/run_demo.py

demo-underwater: install
	$(PY) tools/misc/run_underwater_demo.py

test: install
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Every benchmark in turn (logs in work_dirs/bench); the last line holds
# all their results.
bench: install
	$(PY) tools/analysis_tools/benchmark_all.py

# Every model family of the installed mmdet and mmseg hosted as a task
# (about an hour of CPU; finished families are cached in work_dirs/compat):
# writes docs/compatibility.md.
compat: install
	$(PY) tools/analysis_tools/compat_matrix.py

# Hours of CPU (see each script's docstring); finished runs are kept in
# work_dirs/ and not trained again.
experiment: install
	$(PY) tools/misc/grad_conflict_experiment.py --single-task
	$(PY) tools/misc/optim_methods_experiment.py

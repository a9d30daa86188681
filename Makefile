# The README's two commands: `make demo` and `make test`. Both create .venv from the lock if needed.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mindzoo-installed
EXTRAS ?= test,mindformers
PYTEST_ARGS ?=

.PHONY: setup demo test lint lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "mindzoo needs Python 3.11, found " + sys.version' 
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c requirements/lock.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: setup
	GLOG_v=3 $(VENV)/bin/mindzoo demo

test: setup
	GLOG_v=3 $(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check zoo parity tests benchmarks

lock:
	bash ci/lock.sh

clean:
	rm -rf $(VENV) rank_0 demo-out .pytest_cache

# lottery_fastai: `make demo` and `make test` work on a fresh machine (they create .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-slow export clean-nbs readme check-sync venv dev

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e . 2> >(grep -v "is ignored: it is neither" >&2)
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) install -e ".[dev]" 2> >(grep -v "is ignored: it is neither" >&2)
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev

demo: $(VENV)/.installed
	$(PY) -m lottery_fastai.demo

test: $(VENV)/.dev
	$(PY) tools/readme.py --check
	$(PY) tools/run_tests.py

test-slow: $(VENV)/.dev
	$(PY) tools/run_tests.py --flags slow

export: $(VENV)/.dev
	$(VENV)/bin/nbdev-export

clean-nbs: $(VENV)/.dev
	$(VENV)/bin/nbdev-clean

readme: $(VENV)/.dev
	$(PY) tools/readme.py

# notebooks and library in sync: export and clean leave no diff
check-sync: $(VENV)/.dev
	$(VENV)/bin/nbdev-export && $(VENV)/bin/nbdev-clean && git diff --exit-code -- lottery_fastai nbs

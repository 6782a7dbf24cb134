# lottery_fastai: `make demo` and `make test` work on a fresh machine (they create .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-slow export clean-nbs readme check-sync venv dev docs docs-test bench outputs gpu-check wheel-test

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

CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)

test: $(VENV)/.dev
	$(PY) tools/readme.py --check
	$(PY) tools/docments_check.py
	$(VENV)/bin/ruff check lottery_fastai --select F401,F821,F841 --ignore F403,F405 --exclude lottery_fastai/_modidx.py
	@if [ -n "$(CHROMIUM)" ]; then $(MAKE) --no-print-directory docs docs-test; else echo "Chromium not installed: skipping the docs browser test (apt-get install chromium)"; fi
	$(PY) tools/run_tests.py

# the release as a user installs it: sdist and wheel built and checked (twine), the wheel installed in a fresh virtual
# environment outside the checkout, lottery_fastai.all imported and the demo run for one round there
wheel-test: $(VENV)/.dev
	PY=$(PY) bash tools/wheel_test.sh

# the documentation site, built offline into _docs/ (nbdev's processing, pages built by mkdocs-material; no Quarto)
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(PY) tools/docs.py

# re-run the library notebooks and the index, storing the outputs the docs show (`--slow` for the tutorials' long cells)
outputs: $(VENV)/.dev
	$(PY) tools/execute_nbs.py

# every page opened in headless Chromium: errors, images, links, parameter tables, figures, math, output lengths,
# search from file:// and over HTTP; screenshots in _docs/screenshots
docs-test: $(VENV)/.dev
	CHROMIUM=$(CHROMIUM) $(PY) tools/docs_test.py

# benchmarks: writes bench/RESULTS.md (about 15 minutes on 2 cores)
bench: $(VENV)/.dev
	$(PIP) install "fasterai==0.4.1" 2> >(grep -v "is ignored: it is neither" >&2)
	OMP_NUM_THREADS=1 $(PY) bench/bench.py

# what only a GPU shows (fp16/bf16 autocast, grouped convolutions, GPU timings, 2:4 kernels), in under 8 minutes; results
# into bench/RESULTS.md. Without CUDA it says what it skips and checks on the CPU what it can
gpu-check: $(VENV)/.dev
	$(PY) tools/gpu_check.py

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

# minidl: the course book and the library. `make help` lists the targets.
# Everything runs in a local virtual environment, .venv/, created on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch served here: never a plain `torch` (it pulls multi-GB CUDA wheels).
TORCH := torch==2.13.0
EXTRAS := book,test,browser
JOBS ?= 2
MATHJAX := _vendor/mathjax/tex-mml-chtml.js
BOOK_OK := _build/.book-ok
BOOK_INPUTS := _config.yml _toc.yml $(wildcard book/*.md book/*.bib notebooks/*.ipynb minidl/*.py scripts/*.py benchmarks/*.py)
# Two pytest workers on two cores: one thread each instead of four fighting for two cores.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: help env mathjax chromium book book-if-stale test lint unit nbval browser student benchmark reproduce clean distclean

help:
	@echo "make book      build the book from a clean _build into _build/html (every notebook executed)"
	@echo "make test      ruff, the test suite, nbval on every notebook, and the browser test of the book"
	@echo "make student   write the student edition (solutions removed) to student/"
	@echo "make benchmark time minidl against torch.nn and torch.func, check the speed targets"
	@echo "make reproduce the report's two tables (python -m minidl reproduce), written to reproduce.json"
	@echo "parts of 'make test': make lint | make unit | make nbval | make browser"
	@echo "make clean     remove _build, _vendor and student/ (keeps .venv); make distclean also .venv, node_modules"

# -- environment ---------------------------------------------------------------------------------
# (sed drops pip's warning about each package missing from this machine's local wheel mirrors.)
PIP_QUIET := 2>&1 | sed '/is ignored: it is neither a file nor a directory/d'
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off "$(TORCH)" $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet --progress-bar off "$(TORCH)" -e ".[$(EXTRAS)]" $(PIP_QUIET)
	$(BIN)/python -c 'import sys, torch; cpu = torch.__version__.split("+")[0] == "2.13.0" and torch.version.cuda is None; \
		sys.exit(0 if cpu else f"expected the CPU build of torch 2.13.0, got {torch.__version__}")'
	@touch $@

env: $(VENV)/.installed

# MathJax 3 from npm, served by the book itself (no CDN: the book works offline).
$(MATHJAX): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf _vendor/mathjax
	mkdir -p _vendor
	cp -R node_modules/mathjax/es5 _vendor/mathjax
	@touch $@

mathjax: $(MATHJAX)

# -- the book ------------------------------------------------------------------------------------
# Always from a clean _build: a rebuild that reuses _build can pass with a failing notebook.
book: env mathjax
	rm -rf _build
	$(BIN)/jupyter-book build -W -n --keep-going .
	@touch $(BOOK_OK)
	@echo "The book is in _build/html/index.html"

$(BOOK_OK): $(VENV)/.installed $(MATHJAX) $(BOOK_INPUTS)
	$(MAKE) book

book-if-stale: $(BOOK_OK)

student: env
	$(BIN)/python scripts/student_edition.py --out student

benchmark: env
	$(BIN)/python benchmarks/training_speed.py --check

reproduce: env
	$(BIN)/python -m minidl reproduce --json reproduce.json

# -- tests ---------------------------------------------------------------------------------------
# `make test` rebuilds the book only if a source changed since the last successful `make book`.
test: lint book-if-stale unit nbval browser

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check notebooks  # the chapters' code fits the book's column (notebooks/ruff.toml)

unit: env
	$(TEST_ENV) $(BIN)/pytest -n $(JOBS) tests --ignore=tests/browser

nbval: env
	$(TEST_ENV) $(BIN)/pytest -n $(JOBS) --dist loadscope --nbval-lax --nbval-cell-timeout=600 notebooks

browser: env chromium book-if-stale
	$(BIN)/pytest tests/browser --book=_build/html

# Debian's Chromium for the browser test (playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "The browser test needs Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

clean:
	rm -rf _build _vendor student

distclean: clean
	rm -rf $(VENV) node_modules

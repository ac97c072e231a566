# tiny-universe — one Makefile for the whole monorepo.
#   make setup   create .venv, install torch (CPU wheel pinned for CI) and every folder editable with [test]
#   make test    ruff check + ruff format --check, then each folder's pytest (sets up first when needed)
#   make demo    the main job of every folder on the embedded default (offline, tiny-random model)
#   make bench   every folder's bench/*.py (slow; not part of make test)
# Users with a GPU keep their own torch build:  make setup TORCH="torch"  (or install torch first).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

# The folders that exist (later mini-projects just add theirs).
FOLDERS := $(patsubst %/pyproject.toml,%,$(wildcard shared/pyproject.toml qwen-blog/pyproject.toml \
	tinyrag/pyproject.toml tinyagent/pyproject.toml tinyeval/pyproject.toml))
STAMP := $(VENV)/.setup-stamp

.PHONY: setup test lint format demo bench clean

setup: $(STAMP)

$(STAMP): $(addsuffix /pyproject.toml,$(FOLDERS))
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build on a CPU box.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH)"
	@# one pip command, so that every folder's `tinyqwen` dependency resolves to ./shared
	$(PY) -m pip install $(foreach d,$(FOLDERS),-e './$(d)[test]')
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	@failed=""; for d in $(FOLDERS); do \
		echo "===== pytest $$d"; \
		(cd $$d && ../$(PY) -m pytest -q) || failed="$$failed $$d"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

demo: setup
	@echo "===== tinyqwen (tiny-random = random weights: the text is gibberish by design)"
	$(PY) -m tinyqwen generate --model tiny-random --max-new-tokens 24 "你好，Qwen"
	@if [ -d qwen-blog ]; then echo "===== qwen-blog"; $(MAKE) -s -C qwen-blog demo PY=../$(PY); fi
	@if [ -d tinyrag ]; then echo "===== tinyrag"; $(MAKE) -s -C tinyrag demo PY=../$(PY); fi
	@if [ -d tinyagent ]; then echo "===== tinyagent"; $(MAKE) -s -C tinyagent demo PY=../$(PY); fi
	@if [ -d tinyeval ]; then echo "===== tinyeval"; $(MAKE) -s -C tinyeval demo PY=../$(PY); fi

bench: setup
	@for d in $(FOLDERS); do for f in $$d/bench/*.py; do \
		[ -f "$$f" ] || continue; echo "===== $$f"; (cd $$d && ../$(PY) bench/$$(basename $$f)) || exit 1; \
	done; done

clean:
	rm -rf $(VENV) .ruff_cache */.pytest_cache

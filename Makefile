# tiny-universe — one Makefile for the whole monorepo.
#   make setup   create .venv, install torch (CPU wheel pinned for CI) and every folder editable with [test]
#   make test    ruff check + ruff format --check, then each folder's pytest (sets up first when needed)
#   make test-no-shared-data   the tests that read ../shared/data, again with it hidden (they must skip
#                or use generated data: a user's clone has no ../shared); .ci/run runs both
#   make demo    the main job of every folder on the embedded default (offline, tiny-universe model)
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

.PHONY: setup test test-no-shared-data lint format demo bench clean

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

# TINYU_SHARED_DATA=off hides ../shared/data from every conftest (tinyqwen.data_cache.shared_dev_data);
# only the test files that mention it are re-run, so this costs about a minute, not a second full suite.
DATA_TESTS_RE := DEV_DATA|data_path\(|data_dir\(|acebench_dir|shared_dev_data|conftest import DATA|tokenizer_corpus
test-no-shared-data: setup
	@failed=""; for d in $(FOLDERS); do \
		files=$$(cd $$d && grep -lE '$(DATA_TESTS_RE)' tests/test_*.py 2>/dev/null); \
		[ -n "$$files" ] || continue; \
		echo "===== pytest $$d with TINYU_SHARED_DATA=off:" $$files; \
		(cd $$d && TINYU_SHARED_DATA=off ../$(PY) -m pytest -q $$files) || failed="$$failed $$d"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED without ../shared/data:$$failed"; exit 1; fi

# The main job of each folder on the embedded default (tiny-random: seeded random weights, gibberish text).
demo: setup
	@echo "===== tinyqwen: tiny-universe (a ~4M-parameter Qwen2 trained here on a CPU, shipped in tinyqwen) says hello"
	$(PY) -m tinyqwen generate --model tiny-universe --chat --max-new-tokens 40 "你好"
	@echo "===== tinyqwen serve --model tiny-universe, called through the official openai client (chat + a tool round trip)"
	cd shared && ../$(PY) examples/openai_client_demo.py
	@echo "===== qwen-blog: trace one forward pass, then pretrain a 1M-parameter Qwen2 for 150 steps (~1 min) and sample"
	cd qwen-blog && ../$(PY) -m qwen_blog trace "你好，Qwen" --layers 0
	cd qwen-blog && ../$(PY) -m qwen_blog pretrain --config tiny --max-steps 150 --out ../runs/qwen-blog-demo --overwrite --no-progress
	cd qwen-blog && ../$(PY) -m qwen_blog sample --ckpt ../runs/qwen-blog-demo "小明有3个苹果" --temperature 0.7 --seed 0 --max-new-tokens 60
	@echo "===== tinyrag: tiny-universe asked about towns it never saw, one question the documents answer and one they do not (held-out: cited QA 14 %, refusals 47 %: expect misses)"
	cd tinyrag && ../$(PY) -m tinyrag demo --model tiny-universe
	@echo "===== tinyagent: the exact prompt + a scripted tool-using run, then the real loop on tiny-universe (calculator; qwen + react)"
	cd tinyagent && ../$(PY) -m tinyagent demo
	@echo "===== tinyeval: tiny-universe on its held-out split (tool calls, cited answers, refusals) + built-in tasks, ending with a report"
	cd tinyeval && ../$(PY) -m tinyeval demo --out ../runs/tinyeval-demo

bench: setup
	@for d in $(FOLDERS); do for f in $$d/bench/*.py; do \
		[ -f "$$f" ] || continue; echo "===== $$f"; (cd $$d && ../$(PY) bench/$$(basename $$f)) || exit 1; \
	done; done

clean:
	rm -rf $(VENV) .ruff_cache */.pytest_cache

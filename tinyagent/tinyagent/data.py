"""The tool-calling benchmarks tinyagent evaluates on, and where ``data fetch`` gets them.

    $ python -m tinyagent data fetch acebench       # -> ~/.cache/tiny-universe/data/acebench_zh/
    $ python -m tinyagent eval --ground-truth --categories all
    $ python -m tinyagent data fetch bfcl           # -> ~/.cache/tiny-universe/data/bfcl_v4/

Fetched by :mod:`tinyqwen.data_cache` from the GitHub commits below, every file checked against
the size and sha256 pinned in ``tinyagent/data_pins.py``. The files keep their original names and
bytes (each ``*.json`` is JSON Lines: one object per line):

- ``acebench_zh/data_{normal,special,agent}_*.json`` and ``acebench_zh/possible_answer/*.json``
  (ACEBench ``data_all/data_zh``; ``acebench_en`` is the English twin).
- ``bfcl_v4/`` (BFCL v4, ``berkeley-function-call-leaderboard/bfcl_eval/data``):
  ``BFCL_v4_{category}.json`` — the questions: ``{"id", "question": [[{"role", "content"}, ...]
  per turn], "function": [JSON-schema-like docs]}`` (multi-turn rows add ``initial_config``,
  ``path``, ``involved_classes``); ``possible_answer/BFCL_v4_{category}.json`` —
  ``{"id", "ground_truth"}`` (absent for irrelevance / live_irrelevance / live_relevance /
  format_sensitivity, which have no reference call); ``multi_turn_func_doc/*.json`` — the function
  docs of the multi-turn API classes; ``memory_prereq_conversation/*.json`` — the memory category's
  prerequisite dialogues. Categories: simple_python, simple_java, simple_javascript, multiple,
  parallel, parallel_multiple, irrelevance, live_simple, live_multiple, live_parallel,
  live_parallel_multiple, live_irrelevance, live_relevance, multi_turn_base,
  multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context, web_search, memory,
  format_sensitivity.
"""

from __future__ import annotations

from tinyagent.data_pins import ACEBENCH_EN, ACEBENCH_ZH, BFCL_V4
from tinyqwen.data_cache import DatasetSpec, Source

ACEBENCH_COMMIT = "e6db74b735ead22c24f27367606a9408573b848f"
BFCL_COMMIT = "6ea57973c7a6097fd7c5915698c54c17c5b1b6c8"

DATASETS = (
    DatasetSpec(
        name="acebench",
        folder="acebench_zh",
        about="ACEBench (zh): 17 categories, 1,017 tool-use cases + possible answers",
        size="4.0 MB",
        license="MIT",
        sources=(Source("github", "ACEBench/ACEBench", ACEBENCH_COMMIT, pins=ACEBENCH_ZH),),
    ),
    DatasetSpec(
        name="acebench_en",
        folder="acebench_en",
        about="ACEBench (en): the English twin of the same categories",
        size="4.9 MB",
        license="MIT",
        sources=(Source("github", "ACEBench/ACEBench", ACEBENCH_COMMIT, pins=ACEBENCH_EN),),
    ),
    DatasetSpec(
        name="bfcl",
        folder="bfcl_v4",
        about="BFCL v4: 20 categories (AST, live, multi-turn, web search, memory, format)",
        size="10.9 MB",
        license="Apache-2.0",
        sources=(Source("github", "ShishirPatil/gorilla", BFCL_COMMIT, pins=BFCL_V4),),
    ),
)

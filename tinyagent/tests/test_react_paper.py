"""The ReAct parser on the original paper's HotpotQA trajectories (``shared/data/react_hotpotqa``).

Each few-shot trajectory of ``webthink_simple6`` is cut into model turns the way the paper's loop
sees them (the text after ``Thought i:``), with the real ``Observation i:`` left in, as a backend
that ignores stop words would return it. Every ``Search[...]`` / ``Lookup[...]`` must parse to the
right tool call and every ``Finish[...]`` to the final answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinyagent import tool
from tinyagent.react import parse_react
from tinyqwen.data_cache import shared_dev_data

DATA = (
    shared_dev_data(Path(__file__).resolve().parents[2])
    or Path("../shared/data (absent or hidden)")
) / "react_hotpotqa"


@tool
def Search(entity: str) -> str:  # noqa: N802 (the paper's action names)
    """Search Wikipedia.

    Args:
        entity: the page title.
    """
    return entity


@tool
def Lookup(keyword: str) -> str:  # noqa: N802
    """Find the next sentence with the keyword.

    Args:
        keyword: the word to look up.
    """
    return keyword


def test_paper_trajectories_parse():
    path = DATA / "prompts_naive.json"
    if not path.is_file():
        pytest.skip(f"ReAct prompts not found at {path}")
    prompt = json.loads(path.read_text("utf-8"))["webthink_simple6"]
    tools = {"Search": Search, "Lookup": Lookup}
    checked = {"Search": 0, "Lookup": 0, "Finish": 0}
    for traj in prompt.split("Question:")[1:]:
        turns = re.split(r"\nThought \d+:", traj)[1:]
        for turn_text in turns:
            action = re.search(r"Action \d+: (\w+)\[(.*)\]", turn_text)
            turn = parse_react(turn_text, tools)
            assert turn.format_error is None, turn_text
            if action.group(1) == "Finish":
                assert turn.final_answer == action.group(2) and not turn.calls
            else:
                (call,) = turn.calls
                param = "entity" if action.group(1) == "Search" else "keyword"
                assert (call.name, call.arguments, call.parse_error) == (
                    action.group(1),
                    {param: action.group(2)},
                    None,
                )
                assert "Observation" not in turn.raw
            checked[action.group(1)] += 1
    assert checked == {"Search": 12, "Lookup": 2, "Finish": 6}  # all of webthink_simple6

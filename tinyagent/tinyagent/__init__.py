"""tinyagent — a from-scratch ReAct and Qwen2.5 tool-calling agent with safe built-in tools.

    >>> import tinyqwen
    >>> from tinyagent import Agent
    >>> from tinyagent.tools import calculator, python
    >>> model = tinyqwen.connect("http://127.0.0.1:8000/v1")          # doctest: +SKIP
    >>> agent = Agent(model, [calculator, python], protocol="qwen")  # doctest: +SKIP
    >>> agent.run("What is 17 * 23?").answer            # doctest: +SKIP

Pieces: ``tool`` (functions -> JSON schema + argument checks), ``parsing`` (lenient JSON),
``react`` / ``qwen_tools`` (the two text protocols), ``agent`` (the loop), ``tools/`` (calculator,
python sandbox, web, files, clock), ``bfcl`` (BFCL-parity checker; ``bfcl_strict`` the stricter one)
+ ``bfcl_runner`` + ``acebench`` (tool-call scoring), ``sop`` (SOP agents; examples in ``sops/``),
``plan`` (plan-and-execute), ``memory`` (summarising history), ``mcp`` (MCP client), ``thinking``
(Qwen3 thoughts), ``cli``.
"""

from tinyagent.agent import Agent, AgentResult, Step
from tinyagent.tool import Tool, ToolArgumentError, tool

__all__ = ["Agent", "AgentResult", "Step", "Tool", "ToolArgumentError", "tool"]
__version__ = "0.1.0"

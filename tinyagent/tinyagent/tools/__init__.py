"""Built-in tools: calculator, python sandbox, web search/fetch, local file search, clock.

``TOOLS`` maps the names the CLI accepts (``--tools calculator,python``) to factories, so tools that
need configuration (a folder, a search provider) are built when asked for.
"""

from tinyagent.tools.calculator import calculator
from tinyagent.tools.clock import current_time
from tinyagent.tools.python_exec import make_python_tool, python

__all__ = ["calculator", "python", "current_time", "make_python_tool"]

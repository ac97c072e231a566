"""Built-in tools: calculator, python sandbox, web search/fetch, local file search, clock.

Ready-made ``Tool`` objects are exported here; tools that need configuration are built by
factories: ``make_python_tool(limits, workdir, packages=, allow_unsafe=)`` (bubblewrap sandbox, see
``tools.sandbox``), ``tools.web.make_web_tools(provider)`` and
``tools.files.make_file_tools(folder)``. The CLI maps ``--tools calculator,python,...`` to them
(``tinyagent.cli.build_tools``).
"""

from tinyagent.tools.calculator import calculator
from tinyagent.tools.clock import current_time
from tinyagent.tools.python_exec import make_python_tool, python

__all__ = ["calculator", "python", "current_time", "make_python_tool"]

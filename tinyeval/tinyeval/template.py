"""Prompt templates that can only name fields: ``{context}`` yes, ``{context.__class__}`` no.

Task configs fill prompts from example fields with ``str.format`` syntax. Plain ``str.format``
evaluates attribute and index lookups, so a template (or a task config someone sent you) could
read ``{context.__class__.__init__.__globals__}``. ``safe_format`` accepts only bare identifiers:
no ``.attr``, no ``[index]``, no ``!r`` conversion, no ``:spec``, no positional ``{}``.
``{{`` and ``}}`` are literal braces, as in ``str.format``.

    >>> safe_format("问题：{input}\\n回答：", {"input": "1+1=?"})
    '问题：1+1=?\\n回答：'
    >>> safe_format("{{literal}} {x}", {"x": 1})
    '{literal} 1'
    >>> check_template("{context.__class__}", "prompt")
    Traceback (most recent call last):
    ...
    ValueError: field 'prompt': template field '{context.__class__}' may only name a field (letters, digits, _), no attributes, indexes, conversions or format specs

Limits: values are inserted with ``str(value)``; a field missing from the example is a
``KeyError`` naming the field (the caller adds which example).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

_FORMATTER = string.Formatter()


def template_fields(template: str, where: str = "template") -> list[str]:
    """The field names ``template`` uses, in order; ``ValueError`` on anything but a bare name."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as e:  # a single '{' or '}'
        raise ValueError(
            f"field {where!r}: bad template: {e} (write {{{{ or }}}} for a brace)"
        ) from None
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise ValueError(
                f"field {where!r}: template field {shown!r} may only name a field (letters, "
                "digits, _), no attributes, indexes, conversions or format specs"
            )
        names.append(name)
    return names


def check_template(template: Any, where: str) -> None:
    """Raise ``ValueError`` unless ``template`` is a string of bare-name fields."""
    if not isinstance(template, str):
        raise ValueError(f"field {where!r} must be a string, got {type(template).__name__}")
    template_fields(template, where)


def safe_format(template: str, fields: Mapping[str, Any]) -> str:
    """``template.format(**fields)`` restricted to bare field names (see the module docstring)."""
    template_fields(template)  # re-checked here: callers may skip check_template
    out = []
    for literal, name, _spec, _conv in _FORMATTER.parse(template):
        out.append(literal)
        if name is not None:
            out.append(str(fields[name]))
    return "".join(out)

"""Tools from plain Python functions: a JSON schema from type hints + docstring, and argument checks.

The ``@tool`` decorator reads the signature (type hints, defaults) and the Google-style docstring
(summary + ``Args:`` section) and builds the OpenAI/Qwen tool schema the model sees. Before the
function runs, ``Tool.validate`` checks the model's arguments against that schema and coerces values
only where nothing is lost (``"3"`` -> 3 for an int, ``4.0`` -> 4, ``"true"`` -> True, a JSON string
holding a list -> the list); anything else is an error that names the argument path, so the agent can
show it to the model as an observation.

    >>> from typing import Literal
    >>> @tool
    ... def convert(amount: float, unit: Literal["km", "mile"] = "km") -> float:
    ...     '''Convert a distance.
    ...
    ...     Args:
    ...         amount: the distance to convert.
    ...         unit: the unit of ``amount``.
    ...     '''
    ...     return amount * (0.621371 if unit == "km" else 1.609344)
    >>> convert.parameters["properties"]["unit"]
    {'type': 'string', 'enum': ['km', 'mile'], 'description': 'the unit of ``amount``.', 'default': 'km'}
    >>> convert.validate({"amount": "10"})
    {'amount': 10.0}

Supported hints: str, int, float, bool, None, list[X], tuple[X, ...], set[X], dict[str, X], Optional/
``X | None``, Union (as ``anyOf``), Literal[...] and enum.Enum (as ``enum``), TypedDict (nested object
with its own required keys), Any. Limits: no $ref/recursive types, no dataclasses or pydantic models;
a parameter without a type hint is an error (the model would get no type to follow).
"""

from __future__ import annotations

import enum
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tool", "ToolArgumentError", "tool", "schema_for_type", "validate_value"]

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


class ToolArgumentError(ValueError):
    """The model's arguments do not fit the tool schema; the message names the argument path."""


# --------------------------------------------------------------------------- schema from type hints


def schema_for_type(hint: Any, where: str = "value") -> dict:
    """JSON schema for one Python type hint (``where`` names it in error messages)."""
    if hint is Any:
        return {}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        return {**_common_type(values, where), "enum": values}
    if typing.is_typeddict(hint):
        hints = typing.get_type_hints(hint)
        props = {k: schema_for_type(v, f"{where}.{k}") for k, v in hints.items()}
        required = [k for k in hints if k in hint.__required_keys__]
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = required
        return out
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        values = list(args)
        return {**_common_type(values, where), "enum": values}
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        has_null = len(non_null) < len(args)
        if len(non_null) == 1:
            inner = schema_for_type(non_null[0], where)
            if has_null and isinstance(inner.get("type"), str):
                # ["integer", "null"] reads better for a small model than an anyOf
                return {**inner, "type": [inner["type"], "null"]}
            return {"anyOf": [inner, {"type": "null"}]} if has_null else inner
        variants = [schema_for_type(a, where) for a in args]
        return {"anyOf": variants}
    if origin in (list, set, frozenset, tuple) or hint in (list, set, tuple):
        out: dict = {"type": "array"}
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(
                f"{where}: fixed-length tuple[{args}] is not supported; use tuple[X, ...]"
            )
        if args:
            out["items"] = schema_for_type(args[0], f"{where}[]")
        return out
    if origin is dict or hint is dict:
        out = {"type": "object"}
        if args:
            if args[0] is not str:
                raise TypeError(f"{where}: JSON object keys are strings; got dict[{args[0]}, ...]")
            if args[1] is not Any:
                out["additionalProperties"] = schema_for_type(args[1], f"{where}{{}}")
        return out
    raise TypeError(f"{where}: unsupported type hint {hint!r} for a tool schema")


def _common_type(values: list, where: str) -> dict:
    kinds = {_JSON_TYPES.get(type(v)) for v in values}
    if None in kinds:
        raise TypeError(f"{where}: enum values must be str/int/float/bool, got {values!r}")
    if kinds == {"integer", "number"}:
        return {"type": "number"}
    return {"type": kinds.pop()} if len(kinds) == 1 else {}


# --------------------------------------------------------------------------- docstring


_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$"
)
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {arg: description}) from a Google-style docstring; continuation lines are joined."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section, current, arg_indent = None, None, None
    for line in lines:
        m = _SECTION.match(line)
        if m:
            section, current, arg_indent = m.group(1), None, None
            continue
        if section is None:
            summary.append(line)
        elif section in ("Args", "Arguments", "Parameters") and line.strip():
            indent = len(line) - len(line.lstrip())
            am = _ARG_LINE.match(line.strip())
            if am and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = am.group(1).lstrip("*")
                args[current] = am.group(3).strip()
            elif current is not None:  # a continuation line of the current argument
                args[current] = (args[current] + " " + line.strip()).strip()
    return " ".join(" ".join(summary).split()), args


# --------------------------------------------------------------------------- the Tool


@dataclass
class Tool:
    """A callable the agent can offer to the model: name, description, JSON-schema parameters."""

    name: str
    description: str
    parameters: dict
    fn: Callable[..., Any] = field(repr=False)

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> Tool:
        summary, arg_docs = parse_docstring(fn.__doc__)
        hints = typing.get_type_hints(fn, include_extras=False)
        props: dict[str, dict] = {}
        required: list[str] = []
        tool_name = name or fn.__name__
        for pname, p in inspect.signature(fn).parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(
                    f"tool {tool_name!r}: *args/**kwargs cannot be described to a model"
                )
            if pname not in hints:
                raise TypeError(f"tool {tool_name!r}: parameter {pname!r} has no type hint")
            schema = schema_for_type(hints[pname], f"{tool_name}.{pname}")
            if pname in arg_docs:
                schema["description"] = arg_docs[pname]
            if p.default is inspect.Parameter.empty:
                required.append(pname)
            else:
                default = p.default.value if isinstance(p.default, enum.Enum) else p.default
                if _jsonable(default):
                    schema["default"] = default
            props[pname] = schema
        params: dict = {"type": "object", "properties": props}
        if required:
            params["required"] = required
        return cls(tool_name, description or summary or tool_name, params, fn)

    @property
    def schema(self) -> dict:
        """The OpenAI/Qwen tool description: ``{"type": "function", "function": {...}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validate(self, arguments: dict | str | None) -> dict:
        """Check (and losslessly coerce) the model's arguments; raise ToolArgumentError if wrong."""
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as e:
                raise ToolArgumentError(f"arguments are not valid JSON: {e}") from None
        if not isinstance(arguments, dict):
            raise ToolArgumentError(
                f"arguments must be a JSON object, got {type(arguments).__name__}"
            )
        return validate_value(arguments, {**self.parameters, "additionalProperties": False}, "")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly (no validation), so a tool is still a function."""
        return self.fn(*args, **kwargs)


def tool(fn: Callable | None = None, *, name: str | None = None, description: str | None = None):
    """Decorator: turn a typed, documented function into a :class:`Tool` (``@tool`` or ``@tool(name=...)``)."""
    if fn is None:
        return lambda f: Tool.from_function(f, name=name, description=description)
    return Tool.from_function(fn, name=name, description=description)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- validation / coercion


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if _jsonable(value) else repr(value)
    return (text[:60] + "...") if len(text) > 60 else text


def validate_value(value: Any, schema: dict, path: str) -> Any:
    """Return ``value`` checked against ``schema``, coerced only where lossless; else raise."""
    where = f"argument {path!r}" if path else "arguments"
    if "anyOf" in schema:
        errors = []
        for variant in schema["anyOf"]:
            try:
                return validate_value(value, variant, path)
            except ToolArgumentError as e:
                errors.append(str(e))
        raise ToolArgumentError(
            f"{where}: {_describe(value)} matches none of: " + "; ".join(errors)
        )
    kinds = schema.get("type")
    if kinds is None:
        out = value
    else:
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        out, ok = None, False
        for kind in kinds:  # the exact type first, so "5" stays a string for ["string","integer"]
            if _is_exact(value, kind):
                out, ok = value, True
                break
        if not ok:
            for kind in kinds:
                ok, out = _coerce(value, kind)
                if ok:
                    break
        if not ok:
            raise ToolArgumentError(
                f"{where}: expected {' or '.join(kinds)}, got {_describe(value)} "
                f"({type(value).__name__})"
            )
    if "enum" in schema and out not in schema["enum"]:
        raise ToolArgumentError(f"{where}: {_describe(out)} is not one of {schema['enum']}")
    if isinstance(out, list) and "items" in schema:
        out = [validate_value(v, schema["items"], f"{path}[{i}]") for i, v in enumerate(out)]
    if isinstance(out, dict) and (kinds is None or "object" in kinds):
        out = _validate_object(out, schema, path)
    return out


def _validate_object(obj: dict, schema: dict, path: str) -> dict:
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out = {}
    for key, val in obj.items():
        sub = f"{path}.{key}" if path else key
        if key in props:
            out[key] = validate_value(val, props[key], sub)
        elif extra is False:
            known = ", ".join(props) or "(none)"
            raise ToolArgumentError(f"unknown argument {sub!r}; valid arguments: {known}")
        elif isinstance(extra, dict):
            out[key] = validate_value(val, extra, sub)
        else:
            out[key] = val
    for key in schema.get("required", []):
        if key not in obj:
            sub = f"{path}.{key}" if path else key
            raise ToolArgumentError(f"missing required argument {sub!r}")
    return out


def _is_exact(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    py = {"string": str, "boolean": bool, "object": dict, "null": type(None)}.get(kind)
    if py is None:
        raise ToolArgumentError(f"schema uses unknown JSON type {kind!r}")
    return isinstance(value, py)


def _coerce(value: Any, kind: str) -> tuple[bool, Any]:
    """(ok, coerced) for the lossless conversions small models need; never rounds or truncates."""
    if isinstance(value, bool):
        return (True, "true" if value else "false") if kind == "string" else (False, None)
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return True, int(value)
    elif kind == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return False, None
        if math.isfinite(number):
            if re.fullmatch(r"\s*[+-]?\d+\s*", value):
                whole = int(value)  # "10" -> 10.0, but a 25-digit id stays an exact int
                return True, float(whole) if abs(whole) <= 2**53 else whole
            return True, number
    elif kind == "boolean" and isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
    elif kind == "string" and isinstance(value, (int, float)):
        return True, json.dumps(value)  # 5 -> "5", 2.5 -> "2.5": reversible
    elif kind in ("array", "object") and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return False, None
        if _is_exact(parsed, kind):
            return True, parsed
    elif kind == "array" and isinstance(value, tuple):
        return True, list(value)
    elif kind == "null" and isinstance(value, str) and value.strip().lower() in ("null", "none"):
        return True, None
    return False, None

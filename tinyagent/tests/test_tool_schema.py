"""Schema generation from type hints + docstrings, and argument validation / lossless coercion."""

from __future__ import annotations

import enum
from typing import Literal, Optional, TypedDict

import pytest

from tinyagent.tool import Tool, ToolArgumentError, parse_docstring, tool


class Address(TypedDict):
    city: str
    zip_code: int


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@tool
def book(
    name: str,
    nights: int,
    price: float = 99.5,
    tags: list[str] | None = None,
    room: Literal["single", "double"] = "single",
    address: Optional[Address] = None,  # noqa: UP045 (testing the typing.Optional spelling)
    extras: dict[str, int] | None = None,
    color: Color = Color.RED,
    breakfast: bool = False,
) -> str:
    """Book a hotel room.

    Longer text that is still part of the description.

    Args:
        name: guest name.
        nights (int): how many nights,
            continued on a second line.
        price: price per night.
        tags: free-form labels.
        room: room type.
        address: billing address.
        extras: extra items and their counts.
        color: wall colour.
        breakfast: include breakfast.

    Returns:
        a confirmation.
    """
    return f"{name}:{nights}"


def test_schema_exact():
    assert book.name == "book"
    assert (
        book.description == "Book a hotel room. Longer text that is still part of the description."
    )
    assert book.parameters == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "guest name."},
            "nights": {
                "type": "integer",
                "description": "how many nights, continued on a second line.",
            },
            "price": {"type": "number", "description": "price per night.", "default": 99.5},
            "tags": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "free-form labels.",
                "default": None,
            },
            "room": {
                "type": "string",
                "enum": ["single", "double"],
                "description": "room type.",
                "default": "single",
            },
            "address": {
                "type": ["object", "null"],
                "properties": {"city": {"type": "string"}, "zip_code": {"type": "integer"}},
                "additionalProperties": False,
                "required": ["city", "zip_code"],
                "description": "billing address.",
                "default": None,
            },
            "extras": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "integer"},
                "description": "extra items and their counts.",
                "default": None,
            },
            "color": {
                "type": "string",
                "enum": ["red", "blue"],
                "description": "wall colour.",
                "default": "red",
            },
            "breakfast": {"type": "boolean", "description": "include breakfast.", "default": False},
        },
        "required": ["name", "nights"],
    }
    assert book.schema["type"] == "function" and book.schema["function"]["name"] == "book"


def test_union_of_two_types_is_anyof():
    @tool
    def f(x: int | list[int], y: str | None) -> None:
        """F.

        Args:
            x: one or many.
            y: maybe text.
        """

    assert f.parameters["properties"]["x"] == {
        "anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}],
        "description": "one or many.",
    }
    assert f.parameters["properties"]["y"]["type"] == ["string", "null"]
    assert f.validate({"x": [1, "2"], "y": None}) == {"x": [1, 2], "y": None}
    with pytest.raises(ToolArgumentError, match="matches none of"):
        f.validate({"x": "abc", "y": None})


def test_docstring_parser_sections():
    summary, args = parse_docstring(
        """Do it.

        Args:
            a: first
            b (list[int]): second
                more about b
        Raises:
            ValueError: never
        """
    )
    assert summary == "Do it."
    assert args == {"a": "first", "b": "second more about b"}


def test_missing_hint_and_varargs_are_errors():
    def f(x):
        return x

    with pytest.raises(TypeError, match="parameter 'x' has no type hint"):
        Tool.from_function(f)

    def g(*xs: int):
        return xs

    with pytest.raises(TypeError, match=r"\*args"):
        Tool.from_function(g)


def test_validate_lossless_coercions():
    out = book.validate(
        {
            "name": 42,
            "nights": "3",
            "price": "120",
            "tags": '["a", "b"]',
            "address": {"city": "杭州", "zip_code": 310000.0},
            "extras": {"towel": "2"},
            "breakfast": "TRUE",
        }
    )
    assert out == {
        "name": "42",
        "nights": 3,
        "price": 120.0,
        "tags": ["a", "b"],
        "address": {"city": "杭州", "zip_code": 310000},
        "extras": {"towel": 2},
        "breakfast": True,
    }
    assert type(out["price"]) is float and type(out["nights"]) is int
    assert book.validate('{"name": "a", "nights": 1}') == {"name": "a", "nights": 1}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"nights": 1}, "missing required argument 'name'"),
        ({"name": "a", "nights": 2.5}, "argument 'nights': expected integer, got 2.5"),
        ({"name": "a", "nights": True}, "argument 'nights': expected integer"),
        (
            {"name": "a", "nights": 1, "room": "suite"},
            "\"suite\" is not one of ['single', 'double']",
        ),
        (
            {"name": "a", "nights": 1, "rooms": 2},
            "unknown argument 'rooms'; valid arguments: name, nights",
        ),
        ({"name": "a", "nights": 1, "tags": ["x", 1.5, {}]}, "argument 'tags[2]': expected string"),
        (
            {"name": "a", "nights": 1, "address": {"city": "x"}},
            "missing required argument 'address.zip_code'",
        ),
        (
            {"name": "a", "nights": 1, "address": {"city": "x", "zip_code": 1, "street": "y"}},
            "unknown argument 'address.street'",
        ),
        ({"name": "a", "nights": 1, "breakfast": "yes"}, "argument 'breakfast': expected boolean"),
        ({"name": "a", "nights": "1.5"}, "argument 'nights': expected integer"),
        ("{not json", "arguments are not valid JSON"),
        ([1, 2], "arguments must be a JSON object"),
    ],
)
def test_validate_errors_name_the_argument(args, message):
    with pytest.raises(ToolArgumentError) as e:
        book.validate(args)
    assert message in str(e.value)


def test_number_coercion_keeps_huge_ints_exact():
    @tool
    def f(x: float) -> float:
        """F.

        Args:
            x: a number.
        """
        return x

    assert f.validate({"x": "12345678901234567890123"}) == {"x": 12345678901234567890123}
    assert f.validate({"x": "1e3"}) == {"x": 1000.0}
    with pytest.raises(ToolArgumentError):
        f.validate({"x": "nan"})


def test_decorator_with_options_and_direct_call():
    @tool(name="add_numbers", description="Add two integers.")
    def add(a: int, b: int = 1) -> int:
        return a + b

    assert add.name == "add_numbers" and add.description == "Add two integers."
    assert add(2, b=3) == 5  # still callable as a function
    assert add.parameters["required"] == ["a"]

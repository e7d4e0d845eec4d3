"""Reading a request's JSON (HTTP bodies, multipart operations, WebSocket messages).

Two kinds of valid JSON break the layers below instead of being refused, whatever field
they reach: values nested thousands deep exhaust Python's recursion (in the decoder, in
graphql-core's coercion, in BSON and pydantic), and a lone UTF-16 surrogate (`"\\ud800"`)
is a str that cannot be encoded as UTF-8, so MongoDB's driver fails on it. Both are refused
here, once, for every string and every value of a request.
"""

from __future__ import annotations

import json
import re

# After decoding, a valid surrogate pair is one character: whatever is left is lone.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableJson(json.JSONDecodeError):
    """A request's JSON that is valid but refused; a JSONDecodeError, so that every
    transport treats it as the unreadable message it is to the application."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)


def _not_a_number(name: str) -> object:
    raise UnreadableJson(f"{name} is not a JSON number")


def read_json(data: str | bytes, max_depth: int) -> object:
    try:
        value = json.loads(data, parse_constant=_not_a_number)
    except RecursionError:
        raise UnreadableJson(f"JSON nested more than {max_depth} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # bytes that are not UTF-8, an integer of over 4300 digits
        raise UnreadableJson("text that is not UTF-8, or a number of thousands of digits") from None
    check_json(value, max_depth)
    return value


def check_json(value: object, max_depth: int) -> None:
    """Refuses nesting deeper than `max_depth` containers and strings with a lone surrogate,
    without recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                raise UnreadableJson("a string holds a lone UTF-16 surrogate (not valid UTF-8)")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth == max_depth:
            raise UnreadableJson(f"JSON nested more than {max_depth} levels")
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)

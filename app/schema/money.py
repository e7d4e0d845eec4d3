"""`Cents`: an amount of money in minor currency units.

GraphQL's `Int` is 32-bit, so it stops at 21.47 million in cents: a year of revenue for a
modest business. `Cents` is a whole number serialized as a plain JSON number, exact up to
2^53 - 1, the largest integer every JSON client reads without loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode

MAX_SAFE = 2**53 - 1
# A GraphQLError, not a ValueError: graphql-core reports it to the client as it stands,
# where any other exception from a scalar would be masked as an internal error.
OUT_OF_RANGE = f"Cents must be a whole number of cents within ±{MAX_SAFE} (2^53 - 1)"


def _whole(value: Any) -> int:
    """`value` as an int when it is a whole number within the safe range, as `Int` does."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE:
        raise GraphQLError(OUT_OF_RANGE)
    return value


def _literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    # Digits are counted first: int() refuses texts of over 4300 digits with a ValueError.
    if isinstance(node, IntValueNode) and len(node.value.lstrip("-")) <= len(str(MAX_SAFE)):
        value = int(node.value)
        if abs(value) <= MAX_SAFE:
            return value
    raise GraphQLError(OUT_OF_RANGE, node)


if TYPE_CHECKING:
    Cents = int  # any int is a valid amount to the type checker; the schema checks range
else:
    Cents = NewType("Cents", int)

# Registered in the schema's `StrawberryConfig.scalar_map`.
CENTS_SCALAR = strawberry.scalar(
    name="Cents",
    description=(
        "An amount of money in minor currency units (cents): a whole number, exact up to "
        "2^53 - 1, where GraphQL's 32-bit Int would overflow past 21.47 million."
    ),
    serialize=_whole,
    parse_value=_whole,
    parse_literal=_literal,
)

"""Limits on a document's size, checked in one pass that is linear in the document's length.

Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` walk a fragment again at every
spread of it, so a document of fragments that each spread the one before twice costs 2^n for
n fragments: under 1 KB of text kept a CPU busy for seconds before any authentication.
Here every fragment is summarised once (its dependencies first) and each spread adds that
summary, so the work is linear in the document and the totals (depth, aliases, and the
fields a document selects once its fragments are expanded) are exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_fields: int


@dataclass(frozen=True)
class Cost:
    """What a selection set asks for once its fragments are expanded."""

    depth: int = 0  # nested selection sets; introspection fields (`__…`) do not count
    aliases: int = 0
    fields: int = 0


NOTHING = Cost()


def selection_cost(selection_set: SelectionSetNode, fragments: dict[str, Cost]) -> Cost:
    """The cost of a selection set, each spread's fragment read from `fragments`; an unknown
    or cyclic spread counts as nothing (KnownFragmentNames and NoFragmentCycles report it).
    Recursion follows the text's own nesting only, which the parser caps at 200 levels."""
    depth = aliases = fields = 0
    for selection in selection_set.selections:
        inner, nested = NOTHING, 0
        if isinstance(selection, FieldNode):
            fields += 1
            aliases += selection.alias is not None
            if selection.selection_set is not None:
                inner = selection_cost(selection.selection_set, fragments)
                nested = 0 if selection.name.value.startswith("__") else 1 + inner.depth
        elif isinstance(selection, InlineFragmentNode):
            inner = selection_cost(selection.selection_set, fragments)
            nested = inner.depth
        elif isinstance(selection, FragmentSpreadNode):
            inner = fragments.get(selection.name.value, NOTHING)
            nested = inner.depth
        depth = max(depth, nested)
        aliases += inner.aliases
        fields += inner.fields
    return Cost(depth, aliases, fields)


def spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The fragments a selection set spreads directly (without expanding them)."""
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)


def fragment_costs(definitions: dict[str, FragmentDefinitionNode]) -> dict[str, Cost]:
    """Every fragment's cost, each computed once after the fragments it spreads.

    An explicit stack instead of recursion: a chain of hundreds of fragments must not
    exhaust Python's stack, and a spread back into the chain (a cycle) is skipped."""
    costs: dict[str, Cost] = {}
    seen: set[str] = set()
    for root in definitions:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, spread_names(definitions[root].selection_set))]
        while stack:
            name, spreads = stack[-1]
            child = next((s for s in spreads if s in definitions and s not in seen), None)
            if child is None:
                stack.pop()
                costs[name] = selection_cost(definitions[name].selection_set, costs)
            else:
                seen.add(child)
                stack.append((child, spread_names(definitions[child].selection_set)))
    return costs


def limit_errors(document: DocumentNode, limits: Limits) -> Iterator[GraphQLError]:
    definitions = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    costs = fragment_costs(definitions)
    aliases = fields = 0
    for node in document.definitions:
        if not isinstance(node, OperationDefinitionNode):
            continue
        cost = selection_cost(node.selection_set, costs)
        if cost.depth > limits.max_depth:
            name = node.name.value if node.name else "anonymous"
            message = f"'{name}' exceeds maximum operation depth of {limits.max_depth}"
            yield GraphQLError(message, node)
        aliases += cost.aliases
        fields += cost.fields
    if aliases > limits.max_aliases:
        yield GraphQLError(f"{aliases} aliases found. Allowed: {limits.max_aliases}")
    if fields > limits.max_fields:
        yield GraphQLError(
            f"the document selects {fields} fields once its fragments are expanded; "
            f"at most {limits.max_fields} are allowed"
        )


def document_limits_rule(limits: Limits) -> type[ValidationRule]:
    """A validation rule enforcing `limits`; build it once, since the validation cache is
    keyed by the rule classes."""

    class DocumentLimits(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            for error in limit_errors(node, limits):
                self.report_error(error)

    return DocumentLimits

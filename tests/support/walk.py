"""Build an operation for every root field of the schema from introspection.

Used to prove properties of every field, including fields added after the test was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

INTROSPECT = """
{ __schema { types { name kind
  fields { name args { name type { ...T } defaultValue } type { ...T } }
  inputFields { name type { ...T } defaultValue }
  possibleTypes { name } enumValues { name } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
"""


# A valid value per scalar, so that generated operations reach their resolvers.
SCALARS: dict[str, Any] = {
    "Int": 1,
    "Cents": 100,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2024-01-01",
    "DateTime": "2024-01-01T00:00:00+00:00",
    "JSON": {},
}


def named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


@dataclass
class Walker:
    types: dict[str, dict[str, Any]]
    ids: list[str]  # values to pass where an ID or cursor-ish String is required

    @classmethod
    def from_introspection(cls, data: dict[str, Any], ids: list[str]) -> Walker:
        return cls({t["name"]: t for t in data["__schema"]["types"]}, ids)

    def selection(self, type_name: str, depth: int = 3) -> str:
        """Every field without required arguments, down to `depth`."""
        type_ = self.types[type_name]
        if type_["kind"] in ("UNION", "INTERFACE"):
            return (
                "{ __typename }"
                if depth <= 0
                else "{ __typename "
                + " ".join(
                    f"... on {member} {self.selection(member, depth - 1)}"
                    for member in (t["name"] for t in type_["possibleTypes"])
                )
                + " }"
            )
        parts = ["__typename"]
        for field in type_["fields"] or []:
            if any(arg["type"]["kind"] == "NON_NULL" for arg in field["args"]):
                continue
            target = named(field["type"])
            if target["kind"] in ("SCALAR", "ENUM"):
                parts.append(field["name"])
            elif depth > 0:
                parts.append(f"{field['name']} {self.selection(target['name'], depth - 1)}")
        return "{ " + " ".join(parts) + " }"

    def value(self, type_ref: dict[str, Any], id_value: str) -> Any:
        if type_ref["kind"] == "NON_NULL":
            return self.value(type_ref["ofType"], id_value)
        if type_ref["kind"] == "LIST":
            return [self.value(type_ref["ofType"], id_value)]
        type_ = self.types[type_ref["name"]]
        if type_["kind"] == "ENUM":
            return type_["enumValues"][0]["name"]
        if type_["kind"] == "INPUT_OBJECT":
            return {
                field["name"]: self.value(field["type"], id_value)
                for field in type_["inputFields"]
                if field["type"]["kind"] == "NON_NULL" and field["defaultValue"] is None
            }
        return SCALARS.get(type_["name"], id_value) if type_["name"] != "ID" else id_value

    def operations(self, root: str, keyword: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(field, document, variables) for each root field and each candidate id."""
        for field in self.types[root]["fields"]:
            args = field["args"]
            if any(named(a["type"])["name"] == "Upload" for a in args):
                continue  # files travel as multipart requests; their tests send them
            declared = ", ".join(f"${a['name']}: {render(a['type'])}" for a in args)
            passed = ", ".join(f"{a['name']}: ${a['name']}" for a in args)
            target = named(field["type"])
            selection = (
                "" if target["kind"] in ("SCALAR", "ENUM") else self.selection(target["name"])
            )
            header = f"{keyword} Walk({declared})" if declared else keyword
            call = f"{field['name']}({passed})" if passed else field["name"]
            document = f"{header} {{ {call} {selection} }}"
            for id_value in self.ids if args else [""]:
                variables = {a["name"]: self.value(a["type"], id_value) for a in args}
                yield field["name"], document, variables


def render(type_ref: dict[str, Any]) -> str:
    if type_ref["kind"] == "NON_NULL":
        return render(type_ref["ofType"]) + "!"
    if type_ref["kind"] == "LIST":
        return "[" + render(type_ref["ofType"]) + "]"
    return type_ref["name"]

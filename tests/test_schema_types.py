"""The schema's types say what its values are: money is `Cents`, a closed set is an enum.

These walk the built schema, so a field added later is held to the same rules."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, get_named_type

from app.schema.schema import build_schema
from app.settings import Settings

# Fields that name a closed set of values and must therefore be enums.
ENUM_FIELDS = {
    ("Alert", "severity"),
    ("Recommendation", "confidence"),
    ("Recommendation", "objective"),
    ("SegmentMoveProjection", "baseSource"),
}
# Means per visitor are statistics in fractional cents (rounding would bias small ones).
MEANS_IN_CENTS = {
    ("ArmResult", "revenuePerVisitorCents"),
    ("ArmResult", "marginPerVisitorCents"),
}
# Charts of money: their points are whole cents.
MONEY_CHARTS = {
    ("RevenueContribution", "revenue"),
    ("RevenueContribution", "revenueForecast"),
    ("PlanRevenueSeries", "points"),
    ("SegmentMoveProjection", "revenue"),
    ("SegmentMoveProjection", "baselineRevenue"),
}


def fields_of_schema(settings: Settings):
    """(owner, name, named type) of every field, and of every field's arguments."""
    graphql = build_schema(settings)._schema
    for type_ in graphql.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for name, field in type_.fields.items():
                yield type_.name, name, get_named_type(field.type)
                for arg_name, arg in getattr(field, "args", {}).items():
                    yield f"{type_.name}.{name}", arg_name, get_named_type(arg.type)


def test_every_amount_in_cents_is_typed_cents(settings: Settings):
    wrong = [
        (owner, name, named.name)
        for owner, name, named in fields_of_schema(settings)
        if name.endswith("Cents") and named.name != "Cents"
    ]
    assert sorted(wrong) == sorted((*key, "Float") for key in MEANS_IN_CENTS)


def test_charts_of_money_have_points_in_cents(settings: Settings):
    types = {(owner, name): named for owner, name, named in fields_of_schema(settings)}
    for key in MONEY_CHARTS:
        point = types[key]
        assert isinstance(point, GraphQLObjectType), key
        assert {n: get_named_type(f.type).name for n, f in point.fields.items()} == {
            "period": "Date",
            "value": "Cents",
            "lower": "Cents",
            "upper": "Cents",
        }, key


def test_closed_sets_of_values_are_enums(settings: Settings):
    types = {(owner, name): named for owner, name, named in fields_of_schema(settings)}
    assert {key for key in ENUM_FIELDS if not isinstance(types[key], GraphQLEnumType)} == set()
    assert isinstance(types[("Query.alerts", "severity")], GraphQLEnumType)

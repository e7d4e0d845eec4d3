"""The embedded MongoDB-compatible server, driven through real PyMongo over TCP."""

from __future__ import annotations

import asyncio
import datetime
import re
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator

import bson
import pytest
from beanie import Document, Indexed, init_beanie
from pymongo import AsyncMongoClient, DeleteOne, MongoClient, ReturnDocument, UpdateOne, monitoring
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure
from pymongo.write_concern import WriteConcern

from app.embedded import EmbeddedMongo
from tests.support.servers import MongoProcess

UTC = datetime.UTC


@pytest.fixture(scope="module")
def client(mongo_url: str) -> Iterator[MongoClient]:
    with MongoClient(mongo_url, tz_aware=True) as client:
        yield client


@pytest.fixture
def db_name(request: pytest.FixtureRequest) -> str:
    return "t_" + re.sub(r"\W", "_", request.node.name)[:60]


@pytest.fixture
def db(client: MongoClient, db_name: str):
    client.drop_database(db_name)
    yield client[db_name]
    client.drop_database(db_name)


class GetMoreCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.get_mores = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.get_mores += event.command_name == "getMore"

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


# -- CRUD -------------------------------------------------------------------------------


def test_insert_find_update_delete_round_trip(db) -> None:
    items = db.items
    inserted = items.insert_one({"name": "a", "qty": 1}).inserted_id
    items.insert_many([{"name": "b", "qty": 2}, {"name": "c", "qty": 3}])

    assert items.find_one({"_id": inserted}) == {"_id": inserted, "name": "a", "qty": 1}
    assert items.update_one({"name": "b"}, {"$inc": {"qty": 10}}).modified_count == 1
    assert items.find_one({"name": "b"}, {"_id": 0}) == {"name": "b", "qty": 12}
    assert items.delete_one({"name": "c"}).deleted_count == 1
    assert [d["name"] for d in items.find({}, sort=[("qty", -1)])] == ["b", "a"]


def test_datetimes_round_trip_as_utc(db) -> None:
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    db.events.insert_one({"at": when})

    assert db.events.find_one({"at": {"$gte": when}})["at"] == when


def test_find_applies_filter_sort_skip_limit_and_projection(db) -> None:
    db.nums.insert_many([{"_id": i, "n": i, "odd": i % 2 == 1} for i in range(10)])

    found = db.nums.find({"odd": True}, {"n": 1, "_id": 0}).sort("n", -1).skip(1).limit(2)

    assert list(found) == [{"n": 7}, {"n": 5}]


def test_range_query_compares_only_values_of_the_same_type(db) -> None:
    db.vals.insert_many(
        [{"_id": 1, "v": 5}, {"_id": 2, "v": "7"}, {"_id": 3, "v": [1, 9]}, {"_id": 4, "v": None}]
    )

    assert [d["_id"] for d in db.vals.find({"v": {"$gt": 4}})] == [1, 3]
    assert [d["_id"] for d in db.vals.find({"v": {"$nin": [5, 9]}})] == [2, 4]


def test_sort_orders_mixed_types_and_arrays_like_mongodb(db) -> None:
    when = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    values = ["b", 2, None, True, [0, 5], when, {"k": 1}]
    db.mixed.insert_many([{"_id": i, "v": v} for i, v in enumerate(values)] + [{"_id": 7}])

    ascending = [d["_id"] for d in db.mixed.find(sort=[("v", 1), ("_id", 1)])]
    descending = [d["_id"] for d in db.mixed.find(sort=[("v", -1), ("_id", 1)])]

    # null and missing, numbers (an array by its smallest element), string, object, bool, date
    assert ascending == [2, 7, 4, 1, 0, 6, 3, 5]
    # descending an array sorts by its largest element: 5 comes before 2
    assert descending == [5, 3, 6, 0, 4, 1, 2, 7]


def test_update_many_reports_matched_and_modified_counts(db) -> None:
    db.flags.insert_many([{"on": True}, {"on": False}, {"on": False}])

    result = db.flags.update_many({}, {"$set": {"on": True}})

    assert (result.matched_count, result.modified_count) == (3, 2)


def test_update_with_pipeline_computes_fields(db) -> None:
    db.prices.insert_one({"_id": 1, "net": 100, "tax": 20})

    db.prices.update_one({"_id": 1}, [{"$set": {"gross": {"$add": ["$net", "$tax"]}}}])

    assert db.prices.find_one({"_id": 1})["gross"] == 120


def test_unacknowledged_write_is_applied_without_a_reply(db) -> None:
    db.get_collection("fast", write_concern=WriteConcern(w=0)).insert_one({"_id": 1})

    assert db.fast.find_one({"_id": 1}) == {"_id": 1}


# -- indexes ----------------------------------------------------------------------------


def test_unique_index_violation_raises_duplicate_key_error_11000(db) -> None:
    db.users.create_index("email", unique=True)
    db.users.insert_one({"email": "a@example.com"})

    with pytest.raises(DuplicateKeyError) as caught:
        db.users.insert_one({"email": "a@example.com"})

    assert caught.value.code == 11000
    assert caught.value.details["keyValue"] == {"email": "a@example.com"}
    assert 'dup key: { email: "a@example.com" }' in caught.value.details["errmsg"]


def test_compound_unique_index_rejects_only_a_repeated_pair(db) -> None:
    db.seats.create_index([("row", 1), ("seat", 1)], unique=True)
    db.seats.insert_many([{"row": 1, "seat": 1}, {"row": 1, "seat": 2}])

    with pytest.raises(DuplicateKeyError):
        db.seats.insert_one({"row": 1, "seat": 2})


def test_unique_index_is_enforced_on_update(db) -> None:
    db.users.create_index("email", unique=True)
    db.users.insert_many([{"email": "a"}, {"email": "b"}])

    with pytest.raises(DuplicateKeyError):
        db.users.update_one({"email": "b"}, {"$set": {"email": "a"}})
    assert db.users.count_documents({"email": "b"}) == 1


def test_unordered_insert_many_reports_each_duplicate_and_keeps_the_rest(db) -> None:
    with pytest.raises(BulkWriteError) as caught:
        db.ids.insert_many([{"_id": 1}, {"_id": 1}, {"_id": 2}, {"_id": 2}], ordered=False)

    errors = caught.value.details["writeErrors"]
    assert [(e["index"], e["code"]) for e in errors] == [(1, 11000), (3, 11000)]
    assert caught.value.details["nInserted"] == 2


@pytest.mark.parametrize("ordered", [True, False])
def test_a_failing_update_or_delete_stops_an_ordered_batch_only(db, ordered: bool) -> None:
    db.batch.insert_many([{"_id": 1, "n": "text"}, {"_id": 2, "n": 1}, {"_id": 3}])
    updates = [UpdateOne({"_id": 1}, {"$inc": {"n": 1}}), UpdateOne({"_id": 2}, {"$inc": {"n": 1}})]
    with pytest.raises(BulkWriteError) as caught:
        db.batch.bulk_write(updates, ordered=ordered)
    assert [e["index"] for e in caught.value.details["writeErrors"]] == [0]
    assert caught.value.details["nModified"] == (0 if ordered else 1)
    deletes = [DeleteOne({"$bad": 1}), DeleteOne({"_id": 3})]
    with pytest.raises(BulkWriteError) as caught:
        db.batch.bulk_write(deletes, ordered=ordered)
    assert caught.value.details["nRemoved"] == (0 if ordered else 1)


def test_indexes_are_listed_and_dropped(db) -> None:
    db.things.create_index([("a", 1), ("b", -1)], name="ab")

    assert set(db.things.index_information()) == {"_id_", "ab"}
    db.things.drop_index("ab")
    assert set(db.things.index_information()) == {"_id_"}


def test_renamed_collection_keeps_documents_and_indexes(db) -> None:
    db.old.create_index("k", unique=True)
    db.old.insert_one({"k": 1})

    db.old.rename("new")

    assert db.list_collection_names() == ["new"]
    with pytest.raises(DuplicateKeyError):
        db.new.insert_one({"k": 1})


def test_lookup_by_indexed_field_finds_every_match(db) -> None:
    db.tags.create_index("tag")
    db.tags.insert_many([{"tag": ["x", "y"]}, {"tag": "x"}, {"tag": "z"}, {"other": 1}])

    assert db.tags.count_documents({"tag": "x"}) == 2
    assert db.tags.count_documents({"tag": {"$in": ["y", "z"]}}) == 2
    assert db.tags.count_documents({"tag": None}) == 1


# -- cursors ----------------------------------------------------------------------------


def test_large_result_set_arrives_once_and_in_order_across_getmore_batches(
    mongo_url: str, db_name: str
) -> None:
    counter = GetMoreCounter()
    with MongoClient(mongo_url, event_listeners=[counter]) as client:
        coll = client[db_name].big
        coll.insert_many([{"_id": i, "pad": "x" * 20} for i in range(5000)])

        ids = [doc["_id"] for doc in coll.find({}, batch_size=100)]

        client.drop_database(db_name)
    assert ids == list(range(5000))
    assert counter.get_mores >= 49


def test_killed_cursor_is_gone(db) -> None:
    db.many.insert_many([{"i": i} for i in range(300)])
    cursor = db.many.find(batch_size=10)
    next(cursor)
    cursor_id = cursor.cursor_id
    cursor.close()

    with pytest.raises(OperationFailure) as caught:
        db.command("getMore", cursor_id, collection="many")
    assert caught.value.code == 43


# -- aggregation and friends ------------------------------------------------------------


@pytest.fixture
def shop(db):
    db.customers.insert_many([{"_id": "ann", "city": "Oslo"}, {"_id": "bob", "city": "Rome"}])
    db.orders.insert_many(
        [
            {
                "customer": "ann",
                "at": datetime.datetime(2024, 1, 2, 10, tzinfo=UTC),
                "lines": [{"sku": "pen", "qty": 2}, {"sku": "ink", "qty": 1}],
            },
            {
                "customer": "bob",
                "at": datetime.datetime(2024, 1, 3, 11, tzinfo=UTC),
                "lines": [{"sku": "pen", "qty": 5}],
            },
        ]
    )
    return db


def test_aggregate_unwinds_and_groups(shop) -> None:
    rows = shop.orders.aggregate(
        [
            {"$unwind": "$lines"},
            {"$group": {"_id": "$lines.sku", "qty": {"$sum": "$lines.qty"}}},
            {"$sort": {"_id": 1}},
        ]
    )

    assert list(rows) == [{"_id": "ink", "qty": 1}, {"_id": "pen", "qty": 7}]


def test_aggregate_unwind_can_keep_documents_without_elements(db) -> None:
    db.bags.insert_many([{"_id": 1, "x": [1, 2]}, {"_id": 2, "x": []}, {"_id": 3}])

    kept = db.bags.aggregate([{"$unwind": {"path": "$x", "preserveNullAndEmptyArrays": True}}])
    dropped = db.bags.aggregate([{"$unwind": "$x"}])

    assert list(kept) == [{"_id": 1, "x": 1}, {"_id": 1, "x": 2}, {"_id": 2}, {"_id": 3}]
    assert list(dropped) == [{"_id": 1, "x": 1}, {"_id": 1, "x": 2}]


def test_aggregate_out_replaces_the_target_collection(shop) -> None:
    shop.report.insert_one({"stale": True})

    shop.orders.aggregate([{"$group": {"_id": "$customer"}}, {"$out": "report"}])

    assert sorted(d["_id"] for d in shop.report.find()) == ["ann", "bob"]


def test_aggregate_lookup_joins_another_collection(shop) -> None:
    rows = shop.orders.aggregate(
        [
            {
                "$lookup": {
                    "from": "customers",
                    "localField": "customer",
                    "foreignField": "_id",
                    "as": "who",
                }
            },
            {"$project": {"_id": 0, "city": {"$first": "$who.city"}}},
        ]
    )

    assert sorted(r["city"] for r in rows) == ["Oslo", "Rome"]
    assert "who" not in shop.orders.find_one()  # the join did not leak into storage


def test_aggregate_facet_runs_each_sub_pipeline(shop) -> None:
    [row] = shop.orders.aggregate(
        [{"$facet": {"count": [{"$count": "n"}], "cities": [{"$group": {"_id": "$customer"}}]}}]
    )

    assert row["count"] == [{"n": 2}]
    assert sorted(g["_id"] for g in row["cities"]) == ["ann", "bob"]


def test_aggregate_stages_that_modify_documents_leave_storage_alone(db) -> None:
    db.deep.insert_one({"_id": 1, "a": {"b": 1, "c": 2}})

    [row] = db.deep.aggregate(
        [{"$facet": {"changed": [{"$set": {"a.b": 9}}, {"$unset": "a.c"}], "same": []}}]
    )

    assert row["changed"] == [{"_id": 1, "a": {"b": 9}}]
    assert row["same"] == [{"_id": 1, "a": {"b": 1, "c": 2}}]
    assert db.deep.find_one() == {"_id": 1, "a": {"b": 1, "c": 2}}


def test_aggregate_date_to_string_formats_dates(shop) -> None:
    rows = shop.orders.aggregate(
        [
            {
                "$project": {
                    "_id": 0,
                    "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}},
                }
            },
            {"$sort": {"day": 1}},
        ]
    )

    assert list(rows) == [{"day": "2024-01-02"}, {"day": "2024-01-03"}]


def test_distinct_returns_values_sorted(db) -> None:
    db.cars.insert_many([{"make": "vw"}, {"make": "audi"}, {"make": ["bmw", "vw"]}, {}])

    assert db.cars.distinct("make") == ["audi", "bmw", "vw"]


def test_count_honours_query_skip_and_limit(db) -> None:
    db.items.insert_many([{"i": i} for i in range(10)])

    assert db.command("count", "items", query={"i": {"$gte": 2}}, skip=3, limit=4)["n"] == 4
    assert db.items.count_documents({}, skip=8) == 2


# -- findAndModify and upserts ----------------------------------------------------------


def test_find_one_and_replace_replaces_the_whole_document(db) -> None:
    db.docs.insert_one({"_id": 1, "a": 1, "b": 2})

    after = db.docs.find_one_and_replace({"_id": 1}, {"c": 3}, return_document=ReturnDocument.AFTER)

    assert after == {"_id": 1, "c": 3}
    assert db.docs.find_one({"_id": 1}) == {"_id": 1, "c": 3}


def test_find_one_and_update_sorts_and_returns_the_old_document(db) -> None:
    db.jobs.insert_many([{"_id": 1, "p": 1}, {"_id": 2, "p": 9}])

    before = db.jobs.find_one_and_update({}, {"$set": {"taken": True}}, sort=[("p", -1)])

    assert before == {"_id": 2, "p": 9}
    assert db.jobs.find_one({"taken": True})["_id"] == 2


def test_find_one_and_delete_removes_the_document(db) -> None:
    db.jobs.insert_one({"_id": 1})

    assert db.jobs.find_one_and_delete({"_id": 1}) == {"_id": 1}
    assert db.jobs.count_documents({}) == 0


def test_upsert_takes_id_from_the_equality_filter(db) -> None:
    result = db.kv.update_one({"_id": "k", "v": 1}, {"$set": {"w": 2}}, upsert=True)

    assert result.upserted_id == "k"
    assert db.kv.find_one() == {"_id": "k", "v": 1, "w": 2}


def test_update_with_array_filters_changes_only_matching_elements(db) -> None:
    db.carts.insert_one({"_id": 1, "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 1}]})

    db.carts.update_one({"_id": 1}, {"$set": {"lines.$[l].qty": 5}}, array_filters=[{"l.sku": "b"}])

    assert db.carts.find_one()["lines"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}]


# -- values -----------------------------------------------------------------------------


def test_null_id_is_a_legal_id(db) -> None:
    db.odd.insert_one({"_id": None, "v": 1})

    assert db.odd.find_one({"_id": None}) == {"_id": None, "v": 1}
    with pytest.raises(DuplicateKeyError):
        db.odd.insert_one({"_id": None})


def test_type_null_matches_explicit_nulls_but_not_missing_fields(db) -> None:
    db.vals.insert_many([{"_id": 1, "v": None}, {"_id": 2}, {"_id": 3, "v": 0}])

    assert [d["_id"] for d in db.vals.find({"v": {"$type": "null"}})] == [1]
    assert [d["_id"] for d in db.vals.find({"v": None})] == [1, 2]


# -- unsupported features fail like MongoDB does ----------------------------------------


def test_unknown_command_fails_with_command_not_found_and_connection_survives(db) -> None:
    with pytest.raises(OperationFailure) as caught:
        db.command("noSuchCommand")

    assert caught.value.code == 59
    assert db.command("ping")["ok"] == 1.0


def test_text_search_fails_with_an_error_code(db) -> None:
    db.notes.insert_one({"body": "hello"})

    with pytest.raises(OperationFailure) as caught:
        db.notes.find_one({"$text": {"$search": "hello"}})

    assert caught.value.code == 27
    assert db.notes.count_documents({}) == 1


def test_transaction_fails_with_illegal_operation(client: MongoClient, db) -> None:
    with (
        client.start_session() as session,
        pytest.raises(OperationFailure) as caught,
        session.start_transaction(),
    ):
        db.ledger.insert_one({"x": 1}, session=session)

    assert caught.value.code == 20
    assert db.ledger.count_documents({}) == 0


def test_change_stream_fails_with_an_error_code(db) -> None:
    with pytest.raises(OperationFailure) as caught:
        db.feed.watch()

    assert caught.value.code == 40573
    assert db.command("ping")["ok"] == 1.0


def test_collation_fails_instead_of_being_ignored(db) -> None:
    with pytest.raises(OperationFailure) as caught:
        db.names.find_one({"n": "a"}, collation={"locale": "fr"})

    assert caught.value.code == 238


# -- answers and errors as MongoDB's (each behaviour as the MongoDB manual states it) -----


def test_update_and_find_one_and_update_pipelines_read_let_variables(db) -> None:
    db.acc.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])
    by_id = {"$expr": {"$eq": ["$_id", "$$target"]}}

    result = db.acc.update_one(
        by_id, [{"$set": {"label": "$$name"}}], let={"target": 1, "name": "a"}
    )
    found = db.acc.find_one_and_update(
        by_id, [{"$set": {"label": "$$name"}}], let={"target": 2, "name": "b"}, return_document=True
    )

    assert (result.matched_count, result.modified_count) == (1, 1)
    assert found == {"_id": 2, "n": 2, "label": "b"}
    assert db.acc.find_one({"_id": 1}) == {"_id": 1, "n": 1, "label": "a"}


def test_aggregate_evaluates_let_values_as_expressions(db) -> None:
    db.acc.insert_many([{"_id": 1, "bar": 5}, {"_id": 2, "bar": 6}])
    let = {"target": {"$add": [1, 1]}, "text": {"$literal": "$bar"}}
    pipeline = [{"$match": {"$expr": {"$eq": ["$_id", "$$target"]}}}, {"$project": {"t": "$$text"}}]

    assert list(db.acc.aggregate(pipeline, let=let)) == [{"_id": 2, "t": "$bar"}]


@pytest.mark.parametrize("bad_id", [{"$a": 1}, {"a": {"$b": 1}}], ids=["top", "nested"])
def test_dollar_prefixed_field_in_id_is_refused(db, bad_id) -> None:
    with pytest.raises(OperationFailure) as insert:
        db.ids.insert_one({"_id": bad_id})
    with pytest.raises(OperationFailure) as upsert:
        db.ids.replace_one({"_id": 9}, {"_id": bad_id}, upsert=True)

    assert insert.value.code == upsert.value.code == 52  # DollarPrefixedFieldName
    assert "_id fields may not contain '$'-prefixed fields" in str(insert.value)
    assert db.ids.count_documents({}) == 0


def test_an_update_past_16_mb_is_refused_and_changes_nothing(db) -> None:
    nine_mb = "x" * (9 * 1024 * 1024)
    db.big.insert_one({"_id": 1, "a": nine_mb})

    with pytest.raises(OperationFailure) as caught:
        db.big.update_one({"_id": 1}, {"$set": {"b": nine_mb}})

    assert caught.value.code == 17419
    assert "Resulting document after update is larger than 16777216" in str(caught.value)
    assert db.big.find_one({"_id": 1}, {"a": 0}) == {"_id": 1}


def test_aggregation_output_past_16_mb_is_refused(db) -> None:
    db.big.insert_one({"_id": 1, "a": "x" * (9 * 1024 * 1024)})
    doubled = {"$project": {"a": {"$concat": ["$a", "$a"]}}}

    with pytest.raises(OperationFailure) as returned:
        list(db.big.aggregate([doubled]))
    with pytest.raises(OperationFailure) as written:
        db.big.aggregate([doubled, {"$out": "copies"}])

    assert returned.value.code == written.value.code == 10334  # BSONObjectTooLarge
    assert db.copies.count_documents({}) == 0


def test_update_with_sort_is_refused_as_the_reported_mongodb_7_does(db) -> None:
    """`sort` in an update statement arrived with MongoDB 8.0."""
    assert db.client.server_info()["version"].startswith("7.0")
    db.s.insert_many([{"_id": 1, "v": 0}, {"_id": 2, "v": 0}])

    with pytest.raises(OperationFailure) as caught:
        db.s.update_one({}, {"$set": {"v": 1}}, sort={"_id": -1})

    assert caught.value.code == 40415
    assert "'update.updates.sort' is an unknown field" in str(caught.value)
    assert db.s.count_documents({"v": 1}) == 0


def test_nested_array_filters_update_matching_elements_at_every_depth(db) -> None:
    db.grid.insert_one({"_id": 1, "rows": [{"cells": [1, 5, 7]}, {"cells": [9]}, {"x": 0}]})

    db.grid.update_one(
        {"_id": 1},
        {"$inc": {"rows.$[r].cells.$[c]": 100}},
        array_filters=[{"r.cells": {"$exists": True}}, {"c": {"$gte": 5}}],
    )

    rows = db.grid.find_one()["rows"]
    assert rows == [{"cells": [1, 105, 107]}, {"cells": [109]}, {"x": 0}]


def test_array_filter_without_its_identifier_in_the_update_fails_and_changes_nothing(db) -> None:
    db.grid.insert_one({"_id": 1, "a": [1, 2]})

    with pytest.raises(OperationFailure) as caught:
        db.grid.update_one({}, {"$set": {"a.$[i]": 0}}, array_filters=[{"i": 1}, {"j": 2}])

    assert caught.value.code == 9
    assert db.grid.find_one() == {"_id": 1, "a": [1, 2]}


def test_pipeline_update_that_replaces_the_root_keeps_the_id(db) -> None:
    db.roots.insert_many([{"_id": 1, "t": {"u": 1}}, {"_id": 2, "v": 1}])

    db.roots.update_one({"_id": 1}, [{"$replaceRoot": {"newRoot": "$t"}}, {"$set": {"foo": 1}}])
    db.roots.update_one({"_id": 2}, [{"$replaceWith": {"_id": "$_id", "w": 2}}])

    assert list(db.roots.find()) == [{"_id": 1, "u": 1, "foo": 1}, {"_id": 2, "w": 2}]


def test_bucket_boundaries_of_mixed_types_fail_with_mongodb_errors(db) -> None:
    db.b.insert_many([{"p": 1}, {"p": 20}])

    def bucket_error(boundaries: list) -> OperationFailure:
        stage = {"$bucket": {"groupBy": "$p", "boundaries": boundaries, "default": "other"}}
        with pytest.raises(OperationFailure) as caught:
            list(db.b.aggregate([stage]))
        return caught.value

    mixed, unsorted = bucket_error([0, "a", 50]), bucket_error([0, 50, 10])
    assert mixed.code == 40193 and "conflicting types int and string" in str(mixed)
    assert unsorted.code == 40194


def test_bucket_compares_values_of_other_types_in_bson_order(db) -> None:
    db.b.insert_many([{"p": 1}, {"p": 2.5}, {"p": "text"}, {"q": 0}])
    stage = {"$bucket": {"groupBy": "$p", "boundaries": [0, 2, 10], "default": "other"}}

    buckets = list(db.b.aggregate([stage]))

    assert buckets == [{"_id": 0, "count": 1}, {"_id": 2, "count": 1}, {"_id": "other", "count": 2}]


def test_an_engine_failure_reaches_the_client_as_a_mongodb_error_without_its_text(db) -> None:
    db.e.insert_one({"s": "abc"})

    with pytest.raises(OperationFailure) as caught:
        list(db.e.aggregate([{"$project": {"t": {"$substr": ["$s", "one", 1]}}}]))

    message = str(caught.value)
    assert caught.value.code == 2
    assert "instances of" not in message and "Error" not in message


# -- server behaviour -------------------------------------------------------------------


async def test_concurrent_async_clients_insert_and_read(mongo_url: str, db_name: str) -> None:
    clients = [AsyncMongoClient(mongo_url) for _ in range(4)]

    async def worker(n: int) -> int:
        coll = clients[n % 4][db_name].shared
        await coll.insert_many([{"worker": n, "i": i} for i in range(50)])
        return await coll.count_documents({"worker": n})

    try:
        counts = await asyncio.gather(*(worker(n) for n in range(20)))

        assert counts == [50] * 20
        assert await clients[0][db_name].shared.count_documents({}) == 1000
    finally:
        await clients[0].drop_database(db_name)
        for client in clients:
            await client.close()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_legacy_op_query_is_master_gets_an_op_reply(mongo_url: str) -> None:
    host, port = mongo_url.removeprefix("mongodb://").split(":")
    query = bson.encode({"isMaster": 1})
    payload = b"\0\0\0\0" + b"admin.$cmd\0" + struct.pack("<ii", 0, -1) + query
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(struct.pack("<iiii", 16 + len(payload), 42, 0, 2004) + payload)
        length, _, response_to, op_code = struct.unpack("<iiii", _recv_exactly(sock, 16))
        body = _recv_exactly(sock, length - 16)

    reply = bson.decode(body[20:])
    assert (response_to, op_code) == (42, 1)
    assert reply["ismaster"] is True
    assert reply["maxWireVersion"] >= 8


def test_data_file_keeps_documents_and_indexes_across_restart(tmp_path) -> None:
    server = MongoProcess.start(data_file=str(tmp_path / "data.bson"))
    try:
        with MongoClient(server.url) as client:
            client.app.users.create_index("email", unique=True)
            client.app.users.insert_many([{"_id": 1, "email": "a"}, {"_id": 2, "email": "b"}])
        server.stop()
        server.restart()
        with MongoClient(server.url) as client:
            assert list(client.app.users.find({}, {"_id": 1})) == [{"_id": 1}, {"_id": 2}]
            with pytest.raises(DuplicateKeyError):
                client.app.users.insert_one({"email": "a"})
    finally:
        server.stop()


def test_in_process_server_starts_serves_and_persists_on_stop(tmp_path) -> None:
    data_file = str(tmp_path / "inproc.bson")
    server = EmbeddedMongo(port=0, data_file=data_file)
    url = server.start()
    with MongoClient(url) as client:
        client.app.kv.insert_one({"_id": "k"})
    server.stop()

    again = EmbeddedMongo(port=0, data_file=data_file)
    with MongoClient(again.start()) as client:
        assert client.app.kv.find_one() == {"_id": "k"}
    again.stop()


def test_a_long_command_does_not_hold_up_the_drivers_heartbeat() -> None:
    """A driver marks a server down when `hello` goes unanswered for connectTimeoutMS; an
    aggregation over a big collection must not look like an outage."""
    server = EmbeddedMongo(port=0)
    url = server.start()
    try:
        with MongoClient(url) as client:
            client.app.big.insert_many({"g": i % 1000, "v": i} for i in range(200_000))
            pipeline = [{"$sort": {"v": -1}}, {"$group": {"_id": "$g", "n": {"$sum": "$v"}}}]
            slow = threading.Thread(target=lambda: list(client.app.big.aggregate(pipeline)))
            slow.start()
            assert server.server.wait_until_busy(timeout=30)  # the aggregation is under way
            with MongoClient(url, connectTimeoutMS=2000) as monitor:
                answered = monitor.admin.command("hello")["isWritablePrimary"]
                still_running = slow.is_alive()
            slow.join()
        assert answered and still_running
    finally:
        server.stop()


def test_point_reads_do_not_wait_for_an_aggregation_of_any_collection() -> None:
    server = EmbeddedMongo(port=0)
    url = server.start()
    try:
        with MongoClient(url) as client, MongoClient(url) as reader:
            client.app.big.insert_many({"_id": i, "g": i % 1000} for i in range(200_000))
            client.app.small.insert_one({"_id": "b"})
            reader.admin.command("ping")  # connected before the aggregation starts
            pipeline = [{"$sort": {"g": -1, "_id": 1}}, {"$group": {"_id": "$g", "n": {"$sum": 1}}}]
            slow = threading.Thread(target=lambda: list(client.app.big.aggregate(pipeline)))
            slow.start()
            assert server.server.wait_until_busy(timeout=30)
            other = reader.app.small.find_one({"_id": "b"})
            same = reader.app.big.find_one({"_id": 7})
            still_running = slow.is_alive()
            slow.join()
        assert other == {"_id": "b"} and same == {"_id": 7, "g": 7}
        assert still_running
    finally:
        server.stop()


def test_cli_prints_dev_only_banner_with_real_port_and_exits_cleanly() -> None:
    cmd = [sys.executable, "-m", "app.embedded", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            url = banner.split()[-1]
            with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
                assert client.admin.command("ping")["ok"] == 1.0
        finally:
            proc.terminate()
            code = proc.wait(timeout=30)

    assert "development and tests only" in banner
    assert re.fullmatch(r"mongodb://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
    assert code == 0


# -- Beanie -----------------------------------------------------------------------------


class Product(Document):
    sku: Indexed(str, unique=True)  # type: ignore[valid-type]
    name: str
    price: int

    class Settings:
        name = "products"


async def test_beanie_documents_work_unmodified(mongo_url: str, db_name: str) -> None:
    client = AsyncMongoClient(mongo_url, tz_aware=True)
    await init_beanie(database=client[db_name], document_models=[Product])
    try:
        for i in range(5):
            await Product(sku=f"s{i}", name=f"p{i}", price=i * 10).insert()
        cheapest = await Product.find(Product.price >= 10).sort(+Product.price).limit(2).to_list()
        assert [p.sku for p in cheapest] == ["s1", "s2"]

        product = cheapest[0]
        await product.set({Product.price: 99})
        assert (await Product.get(product.id)).price == 99
        assert await Product.find_one(Product.sku == "s1") is not None
        with pytest.raises(DuplicateKeyError):
            await Product(sku="s1", name="again", price=1).insert()

        await product.delete()
        assert await Product.get(product.id) is None
        assert await Product.count() == 4
    finally:
        await client.drop_database(db_name)
        await client.close()

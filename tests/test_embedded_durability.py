"""The embedded server's data file and journal: what it acknowledged survives `kill -9`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.write_concern import WriteConcern

from tests.support.servers import MongoProcess

KILL_AFTER = 300  # acknowledged inserts before the kill; the stream goes on meanwhile


def _segments(data_file: Path) -> list[Path]:
    return sorted(data_file.parent.glob(data_file.name + ".journal.*"))


@contextlib.contextmanager
def _restarted(server: MongoProcess) -> Iterator[MongoClient]:
    """The server started again on its data file, and a client of it."""
    server.restart()
    try:
        with MongoClient(server.url) as client:
            yield client
    finally:
        server.stop()


def _stream_inserts(url: str, concern: WriteConcern, acked: list[int], enough: threading.Event):
    """Insert numbered documents one by one until the server goes away."""
    with MongoClient(url, serverSelectionTimeoutMS=2000, retryWrites=False) as client:
        coll = client.app.get_collection("events", write_concern=concern)
        try:
            for i in range(1_000_000):
                coll.insert_one({"_id": i, "payload": "x" * 100})
                acked.append(i)
                if len(acked) == KILL_AFTER:
                    enough.set()
        except PyMongoError:
            enough.set()  # the server is gone


@pytest.mark.parametrize(
    "concern",
    [WriteConcern(j=True), WriteConcern(w="majority"), WriteConcern()],
    ids=["j-true", "w-majority", "default"],
)
def test_kill_9_mid_stream_loses_no_acknowledged_insert(tmp_path: Path, concern) -> None:
    """Each write reaches the journal file before its reply, so killing the process loses
    none (the group-commit window only matters when the machine itself goes down)."""
    server = MongoProcess.start(data_file=str(tmp_path / "store.bson"))
    acked: list[int] = []
    enough = threading.Event()
    writer = threading.Thread(target=_stream_inserts, args=(server.url, concern, acked, enough))
    writer.start()
    assert enough.wait(timeout=60)
    server.kill()
    writer.join()
    with _restarted(server) as client:
        stored = {doc["_id"] for doc in client.app.events.find({}, {"_id": 1})}
    assert len(acked) >= KILL_AFTER
    assert set(acked) <= stored


def test_torn_last_journal_record_is_dropped_and_the_rest_replayed(tmp_path: Path) -> None:
    data_file = tmp_path / "store.bson"
    server = MongoProcess.start(data_file=str(data_file))
    with MongoClient(server.url) as client:
        for i in range(10):
            client.app.kv.insert_one({"_id": i, "v": "y" * 50})
    server.kill()
    [segment] = _segments(data_file)
    with segment.open("r+b") as journal:  # a crash halfway through the last append
        journal.truncate(segment.stat().st_size - 7)

    with _restarted(server) as client:
        assert [doc["_id"] for doc in client.app.kv.find()] == list(range(9))
        client.app.kv.insert_one({"_id": 9})  # and the store carries on from there
        assert client.app.kv.count_documents({}) == 10


def test_writes_after_a_checkpoint_are_replayed_over_the_new_snapshot(tmp_path: Path) -> None:
    data_file = tmp_path / "store.bson"
    server = MongoProcess.start(data_file=str(data_file))
    with MongoClient(server.url) as client:
        client.app.items.create_index("sku", unique=True)
        client.app.items.insert_many([{"_id": 1, "sku": "a"}, {"_id": 2, "sku": "b"}])
        client.admin.command("fsync")  # compacts the journal into the snapshot
        client.app.items.update_one({"_id": 1}, {"$set": {"sku": "c"}})
        client.app.items.delete_one({"_id": 2})
        client.app.items.rename("products")
    server.kill()

    with _restarted(server) as client:
        assert list(client.app.products.find()) == [{"_id": 1, "sku": "c"}]
        assert client.app.list_collection_names() == ["products"]
        assert "sku_1" in client.app.products.index_information()
        assert len(_segments(data_file)) == 1  # replayed, compacted, a fresh one started


def test_a_half_written_snapshot_leaves_the_previous_one_in_use(tmp_path: Path) -> None:
    data_file = tmp_path / "store.bson"
    server = MongoProcess.start(data_file=str(data_file))
    with MongoClient(server.url) as client:
        client.app.kv.insert_one({"_id": "kept"})
    server.stop()
    # What a kill during a snapshot write leaves: the temporary file, never renamed.
    data_file.with_name(data_file.name + ".tmp").write_bytes(b"\x10\x00\x00 half a snapshot")

    with _restarted(server) as client:
        assert client.app.kv.find_one() == {"_id": "kept"}

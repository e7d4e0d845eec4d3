"""In-memory storage: documents keyed by `_id`, hash indexes, and the data-file format.

Stored documents are never mutated in place (updates store a fresh copy), so cursors and
pipelines may hold references to them without copying, and a snapshot can be written from
a list of them while writes go on. Every change is also handed to the journal, if any.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bson
from bson.codec_options import CodecOptions
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.tz_util import utc
from mongomock_ng import filtering, helpers
from sentinels import NOTHING

from app.embedded.errors import CommandError
from app.embedded.locks import Locks
from app.embedded.match import key_of, matches

if TYPE_CHECKING:
    from app.embedded.journal import Journal

Document = dict[str, Any]
CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True, tzinfo=utc)
FILE_FORMAT = "app.embedded data file"
FILE_VERSIONS = (1, 2)  # 2 names the first journal segment the snapshot does not hold
ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
MAX_BSON_SIZE = 16 * 1024 * 1024


def clone(doc: Document) -> Document:
    """Deep copy through BSON: fast, and turns naive datetimes into aware UTC ones."""
    return bson.decode(bson.encode(doc, codec_options=CODEC), codec_options=CODEC)


def conjuncts(query: Document) -> Iterator[tuple[str, Any]]:
    """(field, condition) pairs that all must hold: top-level fields and `$and` members."""
    for field, cond in query.items():
        if field == "$and" and isinstance(cond, list):
            for sub in cond:
                if isinstance(sub, dict):
                    yield from conjuncts(sub)
        elif not field.startswith("$"):
            yield field, cond


def equality_values(cond: Any) -> list[Any] | None:
    """The values a condition accepts by plain equality (`v`, `$eq`, `$in`), else None."""
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        if "$eq" in cond:
            values = [cond["$eq"]]
        elif isinstance(cond.get("$in"), list):
            values = cond["$in"]
        else:
            return None
    else:
        values = [cond]
    # Arrays match by whole-array equality too, and regexes by pattern: not a hash lookup.
    if any(isinstance(v, (list, Regex, re.Pattern)) for v in values):
        return None
    return values


def path_keys(doc: Document, path: str) -> tuple[list[Any], bool]:
    """Index keys of the values at `path` (array elements expanded) and whether it exists."""
    keys: list[Any] = []
    present = False
    for value in filtering.iter_key_candidates(path, doc) or [NOTHING]:
        present |= value is not NOTHING
        if value is NOTHING or value is None:
            keys.append(None)  # missing fields are indexed as null, as MongoDB does
        elif isinstance(value, list) and value:
            keys.extend(key_of(v) for v in value)
        else:
            keys.append(key_of(value))
    return list(dict.fromkeys(keys)), present


def too_large(size: int, doc: Document) -> CommandError:
    """MongoDB's BSONObjectTooLarge, for a document past the 16 MiB limit."""
    first = next(iter(doc.items()), ("", ""))
    message = (
        f"BSONObj size: {size} ({size:#x}) is invalid. Size must be between 0 and "
        f"16793600(16MB) First element: {first[0]}: {_shell_repr(first[1])}"
    )
    return CommandError(10334, message)


def dup_key_error(ns: str, index: str, pattern: Document, doc: Document) -> CommandError:
    """MongoDB's duplicate key error, naming the index and the clashing values."""
    values = {field: helpers.get_value_by_dot(doc, field) for field in pattern}
    values = {field: None if v is NOTHING else v for field, v in values.items()}
    shown = ", ".join(f"{k}: {_shell_repr(v)}" for k, v in values.items())
    return CommandError(
        11000,
        f"E11000 duplicate key error collection: {ns} index: {index} dup key: {{ {shown} }}",
        keyPattern=dict(pattern),
        keyValue=values,
    )


def _shell_repr(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, ObjectId):
        return f"ObjectId('{value}')"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class Index:
    """A secondary index: for each key prefix length, a dict from key tuple to ids.

    The prefix maps let an equality on the leading fields of a compound index use it.
    Id sets are dicts (ordered) so index lookups return documents in insertion order.
    """

    def __init__(self, spec: Document) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.fields: list[str] = list(spec["key"])
        self.unique = bool(spec.get("unique"))
        self.sparse = bool(spec.get("sparse"))
        self.partial: Document | None = spec.get("partialFilterExpression")
        self.maps: list[dict[tuple[Any, ...], dict[Any, None]]] = [{} for _ in self.fields]

    @property
    def covers_all(self) -> bool:
        """Whether every document has entries, so a lookup sees every match."""
        return not self.sparse and self.partial is None

    def entries(self, doc: Document) -> list[tuple[Any, ...]]:
        if self.partial is not None and not matches(self.partial, doc):
            return []
        per_field = []
        present = False
        for path in self.fields:
            keys, here = path_keys(doc, path)
            per_field.append(keys)
            present |= here
        if self.sparse and not present:
            return []
        return list(itertools.product(*per_field))

    def add(self, idk: Any, entries: list[tuple[Any, ...]]) -> None:
        for entry in entries:
            for n, keymap in enumerate(self.maps, 1):
                keymap.setdefault(entry[:n], {})[idk] = None

    def remove(self, idk: Any, entries: list[tuple[Any, ...]]) -> None:
        for entry in entries:
            for n, keymap in enumerate(self.maps, 1):
                ids = keymap.get(entry[:n])
                if ids is not None:
                    ids.pop(idk, None)
                    if not ids:
                        del keymap[entry[:n]]

    def conflicts(self, idk: Any, entries: list[tuple[Any, ...]]) -> bool:
        if not self.unique:
            return False
        full = self.maps[-1]
        return any(other != idk for entry in entries for other in full.get(entry, ()))

    def lookup(self, query: Document) -> list[Any] | None:
        """Ids that may match `query`, or None when no leading field is an equality."""
        conditions = dict(conjuncts(query))
        per_field = []
        for path in self.fields:
            values = equality_values(conditions.get(path, NOTHING))
            if path not in conditions or values is None:
                break
            per_field.append([None if v is None else key_of(v) for v in values])
        if not per_field:
            return None
        keymap = self.maps[len(per_field) - 1]
        ids: dict[Any, None] = {}
        for entry in itertools.product(*per_field):
            ids.update(keymap.get(entry, {}))
        return list(ids)


class Collection:
    def __init__(self, store: Store, ns: str, options: Document | None = None) -> None:
        self.store = store
        self.ns = ns
        self.lock = store.locks.of(ns)  # see locks.py
        self.options = options or {}
        self.docs: dict[Any, Document] = {}
        self.indexes: dict[str, Index] = {}

    def _record(self, op: str, **fields: Any) -> None:
        if self.store.journal is not None:
            self.store.journal.record({"op": op, "ns": self.ns, **fields})

    def insert(self, doc: Document) -> None:
        idk = key_of(doc["_id"])
        if idk in self.docs:
            raise dup_key_error(self.ns, "_id_", {"_id": 1}, doc)
        staged = self._check_unique(idk, doc)
        self.docs[idk] = doc
        for index, entries in staged:
            index.add(idk, entries)
        self._record("put", docs=[doc])

    def replace(self, old: Document, new: Document) -> None:
        idk = key_of(old["_id"])
        staged = self._check_unique(idk, new)
        for index in self.indexes.values():
            index.remove(idk, index.entries(old))
        self.docs[idk] = new  # keeps the document's place in natural order
        for index, entries in staged:
            index.add(idk, entries)
        self._record("put", docs=[new])

    def delete(self, doc: Document) -> None:
        idk = key_of(doc["_id"])
        for index in self.indexes.values():
            index.remove(idk, index.entries(doc))
        del self.docs[idk]
        self._record("delete", id=doc["_id"])

    def put(self, doc: Document) -> None:
        """Insert, or replace the document with the same `_id` (journal replay)."""
        old = self.docs.get(key_of(doc["_id"]))
        if old is None:
            self.insert(doc)
        else:
            self.replace(old, doc)

    def _check_unique(self, idk: Any, doc: Document) -> list[tuple[Index, list[tuple[Any, ...]]]]:
        staged = []
        for index in self.indexes.values():
            entries = index.entries(doc)
            if index.conflicts(idk, entries):
                raise dup_key_error(self.ns, index.name, index.spec["key"], doc)
            staged.append((index, entries))
        return staged

    def add_index(self, spec: Document) -> None:
        """Build an index over the existing documents; nothing changes if that fails."""
        index = Index(spec)
        for idk, doc in self.docs.items():
            entries = index.entries(doc)
            if index.conflicts(idk, entries):
                raise dup_key_error(self.ns, index.name, index.spec["key"], doc)
            index.add(idk, entries)
        self.indexes[index.name] = index
        self._record("index", spec=spec)

    def expire(self, now: datetime.datetime) -> int:
        removed = 0
        for index in list(self.indexes.values()):
            seconds = index.spec.get("expireAfterSeconds")
            if seconds is None or len(index.fields) != 1:
                continue
            limit = now - datetime.timedelta(seconds=float(seconds))
            for doc in [d for d in self.docs.values() if _expired(d, index, limit)]:
                self.delete(doc)
                removed += 1
        return removed

    def drop_index(self, name: str) -> None:
        del self.indexes[name]
        self._record("dropIndex", name=name)

    def candidates(self, query: Document) -> list[Document] | None:
        """Documents that may match, found through `_id` or an index; None means scan."""
        for field, cond in conjuncts(query):
            values = equality_values(cond) if field == "_id" else None
            if values is not None:
                found = (self.docs.get(key_of(v)) for v in values)
                return list({id(d): d for d in found if d is not None}.values())
        best: list[Any] | None = None
        for index in self.indexes.values():
            ids = index.lookup(query) if index.covers_all else None
            if ids is not None and (best is None or len(ids) < len(best)):
                best = ids
        return None if best is None else [self.docs[idk] for idk in best]

    def index_specs(self) -> list[Document]:
        return [ID_INDEX] + [index.spec for index in self.indexes.values()]


class Store:
    """All databases: {db name: {collection name: Collection}}.

    The catalog lock keeps creating and dropping collections consistent between threads;
    documents are guarded by the per-collection locks commands take (see locks.py).
    """

    def __init__(self) -> None:
        self.databases: dict[str, dict[str, Collection]] = {}
        self.journal: Journal | None = None
        self.locks = Locks()
        self._catalog = threading.Lock()

    def get(self, db: str, name: str) -> Collection | None:
        return self.databases.get(db, {}).get(name)

    def collections(self, db: str) -> list[tuple[str, Collection]]:
        with self._catalog:
            return list(self.databases.get(db, {}).items())

    def names(self) -> list[str]:
        with self._catalog:
            return sorted(self.databases)

    def create(self, db: str, name: str, options: Document | None = None) -> Collection:
        with self._catalog:
            colls = self.databases.setdefault(db, {})
            coll = colls.get(name)
            if coll is None:
                coll = colls[name] = Collection(self, f"{db}.{name}", options)
                coll._record("create", options=coll.options)
            return coll

    def drop(self, db: str, name: str) -> Collection | None:
        with self._catalog:
            colls = self.databases.get(db, {})
            dropped = colls.pop(name, None)
            if not colls:
                self.databases.pop(db, None)
        if dropped is not None:
            dropped._record("drop")
        return dropped

    def rename(self, source: str, target: str) -> None:
        """Move a collection, documents and indexes, to a free namespace."""
        (src_db, src), (dst_db, dst) = _split(source), _split(target)
        with self._catalog:
            coll = self.databases[src_db].pop(src)
            if not self.databases[src_db]:
                del self.databases[src_db]
            moved = Collection(self, target, coll.options)
            moved.docs, moved.indexes = coll.docs, coll.indexes
            self.databases.setdefault(dst_db, {})[dst] = moved
        # One journal record: replaying it moves the documents again.
        moved._record("renamedFrom", source=source)

    def apply(self, op: Document) -> None:
        """Redo one journaled operation."""
        ns, kind = op["ns"], op["op"]
        if kind == "renamedFrom":
            self.rename(op["source"], ns)
        elif kind == "drop":
            self.drop(*_split(ns))
        elif kind == "create":
            self.create(*_split(ns), options=op["options"])
        else:
            coll = self.create(*_split(ns))
            if kind == "put":
                for doc in op["docs"]:
                    coll.put(doc)
            elif kind == "delete":
                coll.delete(coll.docs[key_of(op["id"])])
            elif kind == "index":
                coll.add_index(op["spec"])
            elif kind == "dropIndex":
                coll.drop_index(op["name"])

    def expire(self, now: datetime.datetime) -> int:
        """Delete documents past a TTL index's `expireAfterSeconds`, as MongoDB's monitor does."""
        removed = 0
        for db in self.names():
            for name, coll in self.collections(db):
                with coll.lock:
                    if self.get(db, name) is coll:  # not dropped meanwhile
                        removed += coll.expire(now)
        return removed

    def image(self) -> list[tuple[Document, list[Document]]]:
        """Each collection's header and documents, as a snapshot writes them.

        Quick (documents are shared, not copied): callers hold off writers meanwhile.
        """
        with self._catalog:
            colls = [(db, name, c) for db, cs in self.databases.items() for name, c in cs.items()]
        return [
            (
                {
                    "db": db,
                    "collection": name,
                    "options": dict(coll.options),
                    "indexes": [index.spec for index in coll.indexes.values()],
                    "count": len(coll.docs),
                },
                list(coll.docs.values()),
            )
            for db, name, coll in colls
        ]

    @classmethod
    def load(cls, path: Path) -> tuple[Store, int]:
        """The snapshot's store and the first journal segment it does not include."""
        store = cls()
        with path.open("rb") as data:
            stream = bson.decode_file_iter(data, codec_options=CODEC)
            first = next(stream, None) or {}
            if first.get("format") != FILE_FORMAT or first.get("version") not in FILE_VERSIONS:
                raise ValueError(f"{path} is not an embedded server data file")
            for header in stream:
                coll = store.create(header["db"], header["collection"], header["options"])
                for doc in itertools.islice(stream, header["count"]):
                    coll.insert(doc)
                for spec in header["indexes"]:
                    coll.add_index(spec)
        return store, int(first.get("journal", 0))


def write_snapshot(
    path: Path, image: list[tuple[Document, list[Document]]], journal_segment: int
) -> None:
    """Write a store image as a stream of BSON documents, atomically: a crash at any point
    leaves either the old snapshot or the new one (temp file, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        head = {"format": FILE_FORMAT, "version": 2, "journal": journal_segment}
        out.write(bson.encode(head))
        for header, docs in image:
            out.write(bson.encode(header, codec_options=CODEC))
            for doc in docs:
                out.write(bson.encode(doc, codec_options=CODEC))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
    """Make a created or renamed file's directory entry durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _split(ns: str) -> tuple[str, str]:
    db, _, name = ns.partition(".")
    return db, name


def _expired(doc: Document, index: Index, limit: datetime.datetime) -> bool:
    value = helpers.get_value_by_dot(doc, index.fields[0])
    values = value if isinstance(value, list) else [value]
    dates = [d for d in values if isinstance(d, datetime.datetime)]
    return bool(dates) and min(d if d.tzinfo else d.replace(tzinfo=utc) for d in dates) <= limit

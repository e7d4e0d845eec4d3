"""In-memory storage: documents keyed by `_id`, hash indexes, and the data-file format.

Stored documents are never mutated in place (updates store a fresh copy), so cursors and
pipelines may hold references to them without copying.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.tz_util import utc
from mongomock_ng import filtering, helpers
from sentinels import NOTHING

from app.embedded.errors import CommandError
from app.embedded.match import key_of, matches

Document = dict[str, Any]
CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True, tzinfo=utc)
FILE_FORMAT = {"format": "app.embedded data file", "version": 1}
ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}


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
    def __init__(self, ns: str, options: Document | None = None) -> None:
        self.ns = ns
        self.options = options or {}
        self.docs: dict[Any, Document] = {}
        self.indexes: dict[str, Index] = {}

    def insert(self, doc: Document) -> None:
        idk = key_of(doc["_id"])
        if idk in self.docs:
            raise dup_key_error(self.ns, "_id_", {"_id": 1}, doc)
        staged = self._check_unique(idk, doc)
        self.docs[idk] = doc
        for index, entries in staged:
            index.add(idk, entries)

    def replace(self, old: Document, new: Document) -> None:
        idk = key_of(old["_id"])
        staged = self._check_unique(idk, new)
        for index in self.indexes.values():
            index.remove(idk, index.entries(old))
        self.docs[idk] = new  # keeps the document's place in natural order
        for index, entries in staged:
            index.add(idk, entries)

    def delete(self, doc: Document) -> None:
        idk = key_of(doc["_id"])
        for index in self.indexes.values():
            index.remove(idk, index.entries(doc))
        del self.docs[idk]

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
    """All databases: {db name: {collection name: Collection}}."""

    def __init__(self) -> None:
        self.databases: dict[str, dict[str, Collection]] = {}

    def get(self, db: str, name: str) -> Collection | None:
        return self.databases.get(db, {}).get(name)

    def create(self, db: str, name: str, options: Document | None = None) -> Collection:
        colls = self.databases.setdefault(db, {})
        if name not in colls:
            colls[name] = Collection(f"{db}.{name}", options)
        return colls[name]

    def drop(self, db: str, name: str) -> Collection | None:
        colls = self.databases.get(db, {})
        dropped = colls.pop(name, None)
        if not colls:
            self.databases.pop(db, None)
        return dropped

    def expire(self, now: datetime.datetime) -> int:
        """Delete documents past a TTL index's `expireAfterSeconds`, as MongoDB's monitor does."""
        removed = 0
        for colls in self.databases.values():
            for coll in colls.values():
                for index in list(coll.indexes.values()):
                    seconds = index.spec.get("expireAfterSeconds")
                    if seconds is None or len(index.fields) != 1:
                        continue
                    limit = now - datetime.timedelta(seconds=float(seconds))
                    for doc in [d for d in coll.docs.values() if _expired(d, index, limit)]:
                        coll.delete(doc)
                        removed += 1
        return removed

    def save(self, path: str) -> None:
        """Write everything as a stream of BSON documents, atomically (temp file + rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with tmp.open("wb") as out:
            out.write(bson.encode(FILE_FORMAT))
            for db, colls in self.databases.items():
                for name, coll in colls.items():
                    header = {
                        "db": db,
                        "collection": name,
                        "options": coll.options,
                        "indexes": [index.spec for index in coll.indexes.values()],
                        "count": len(coll.docs),
                    }
                    out.write(bson.encode(header, codec_options=CODEC))
                    for doc in coll.docs.values():
                        out.write(bson.encode(doc, codec_options=CODEC))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str) -> Store:
        store = cls()
        with Path(path).open("rb") as data:
            stream = bson.decode_file_iter(data, codec_options=CODEC)
            if next(stream, None) != FILE_FORMAT:
                raise ValueError(f"{path} is not an embedded server data file")
            for header in stream:
                coll = store.create(header["db"], header["collection"], header["options"])
                for doc in itertools.islice(stream, header["count"]):
                    coll.insert(doc)
                for spec in header["indexes"]:
                    coll.add_index(spec)
        return store


def _expired(doc: Document, index: Index, limit: datetime.datetime) -> bool:
    value = helpers.get_value_by_dot(doc, index.fields[0])
    values = value if isinstance(value, list) else [value]
    dates = [d for d in values if isinstance(d, datetime.datetime)]
    return bool(dates) and min(d if d.tzinfo else d.replace(tzinfo=utc) for d in dates) <= limit

"""Command handlers: each turns a request document into MongoDB's reply document."""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import bson
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

from app.embedded.engine import (
    apply_update,
    distinct_values,
    find_docs,
    is_operator_update,
    is_read_only,
    let_variables,
    output_namespace,
    project,
    run_pipeline,
    sort_docs,
    upsert_document,
    with_id_first,
)
from app.embedded.errors import CommandError, as_command_error, not_supported
from app.embedded.match import matches
from app.embedded.store import (
    CODEC,
    MAX_BSON_SIZE,
    Collection,
    Document,
    Store,
    clone,
    too_large,
)
from app.embedded.wire import MAX_MESSAGE_SIZE

R = TypeVar("R")  # what one statement of a write command returns
VERSION = "7.0.0"
MAX_WIRE_VERSION = 21
MAX_WRITE_BATCH = 100_000
DEFAULT_BATCH = 101  # MongoDB's first batch; later batches are bounded by size only
CURSOR_IDLE_SECONDS = 600
# Commands that read no data: answered at once, whatever else runs.
MONITORING = frozenset({"hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo"})
# What MongoDB 7.0 accepts in an update statement (8.0 added `sort`).
_UPDATE_STATEMENT_FIELDS = frozenset(
    {"q", "u", "c", "upsert", "multi", "arrayFilters", "hint", "collation"}
)
# Commands that hold their collection's lock from start to end (see locks.py).
_HOLD_TARGET = frozenset({
    "insert", "update", "delete", "findAndModify", "findandmodify", "create", "drop",
    "createIndexes", "dropIndexes", "deleteIndexes", "listIndexes", "collStats",
})  # fmt: skip

NO_TRANSACTIONS = "Transaction numbers are only allowed on a replica set member or mongos"
_CREATE_UNSUPPORTED = {
    "viewOn": "views",
    "pipeline": "views",
    "capped": "capped collections",
    "timeseries": "time series collections",
    "clusteredIndex": "clustered collections",
    "validator": "schema validation",
    "collation": "collation",
    "expireAfterSeconds": "collection-level TTL",
    "changeStreamPreAndPostImages": "change streams",
    "encryptedFields": "queryable encryption",
}

Handler = Callable[["Commands", "Request"], Document]
_HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            _HANDLERS[name] = fn
        return fn

    return register


@dataclass
class Request:
    body: Document
    conn_id: int

    @property
    def name(self) -> str:
        return next(iter(self.body))

    @property
    def db(self) -> str:
        return str(self.body.get("$db", "admin"))

    @property
    def target(self) -> str:
        """The collection the command names; MongoDB's namespace rules apply."""
        name = self.body[self.name]
        if not isinstance(name, str) or not name or "$" in name or "\0" in name:
            raise CommandError(73, f"Invalid collection name: {name!r}")
        return name

    @property
    def ns(self) -> str:
        return f"{self.db}.{self.target}"


@dataclass
class Cursor:
    ns: str
    docs: list[Document]
    transform: Callable[[Document], Document | None] | None = None
    pos: int = 0
    used: float = field(default_factory=time.monotonic)

    def next_batch(self, count: int | None) -> list[RawBSONDocument]:
        """Encode up to `count` documents, and no more than MongoDB's 16 MiB per batch."""
        out: list[RawBSONDocument] = []
        size = 0
        while self.pos < len(self.docs) and (count is None or len(out) < count):
            doc = self.docs[self.pos]
            if self.transform is not None:
                projected = self.transform(doc)
                if projected is None:
                    self.pos += 1
                    continue
                doc = projected
            raw = bson.encode(doc, codec_options=CODEC)
            if len(raw) > MAX_BSON_SIZE:
                raise too_large(len(raw), doc)
            if out and size + len(raw) > MAX_BSON_SIZE:
                break
            out.append(RawBSONDocument(raw))
            size += len(raw)
            self.pos += 1
        self.used = time.monotonic()
        return out

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.docs)


def _batch_size(value: Any, default: int | None) -> int | None:
    """A batch's document count; None leaves only the 16 MiB bound."""
    if value is None:
        return default
    if not isinstance(value, int) or value < 0:
        raise CommandError(2, "batchSize must be a non-negative number")
    if value == 0 and default is None:
        return None  # getMore: 0 means "as many as fit"; a first batch of 0 is empty
    return value


def _non_negative(body: Document, name: str) -> int:
    value = body.get(name) or 0
    if not isinstance(value, (int, float)) or value < 0:
        raise CommandError(51024, f"BSON field '{name}' value must be >= 0, actual value '{value}'")
    return int(value)


def _wants_journal(concern: Any) -> bool:
    """`j: true`, or `w: "majority"`, which on a single node means the journal too."""
    return isinstance(concern, dict) and bool(concern.get("j") or concern.get("w") == "majority")


def _reject_collation(doc: Document) -> None:
    if doc.get("collation"):
        raise not_supported("collation")


def _each_write(
    req: Request, field: str, write: Callable[[Document], R]
) -> tuple[list[tuple[int, R]], list[Document]]:
    """`write` on each statement of the command's `field`, in order: (index, result) of
    those that succeeded and the write errors of the others. An ordered write (MongoDB's
    default) stops at its first error, an unordered one goes on."""
    ordered = req.body.get("ordered", True)
    done: list[tuple[int, R]] = []
    errors: list[Document] = []
    for i, statement in enumerate(req.body.get(field, [])):
        try:
            done.append((i, write(statement)))
        except Exception as exc:
            errors.append(as_command_error(exc).write_error(i))
            if ordered:
                break
    return done, errors


def _write_reply(n: int, errors: list[Document], **more: Any) -> Document:
    reply: Document = {"n": n, **more}
    if errors:
        reply["writeErrors"] = errors
    reply["ok"] = 1.0
    return reply


class Commands:
    """The server's state (store, open cursors) and its command handlers."""

    def __init__(self, store: Store, checkpoint: Callable[[], None] | None = None) -> None:
        self.store = store
        self.checkpoint = checkpoint  # compacts the journal into the snapshot
        self.cursors: dict[int, Cursor] = {}
        self._cursors_lock = threading.Lock()
        self.started = time.monotonic()
        self.connections = 0
        self.active = 0  # data commands running
        self.activity = threading.Condition()  # notified when `active` changes

    def run(self, body: Document, conn_id: int) -> Document:
        """Execute one command; failures become error replies, never exceptions."""
        if next(iter(body), None) in MONITORING:
            return self._run(body, conn_id)
        self._count_active(+1)
        try:
            return self._run(body, conn_id)
        finally:
            self._count_active(-1)

    def _count_active(self, change: int) -> None:
        with self.activity:
            self.active += change
            self.activity.notify_all()

    def _run(self, body: Document, conn_id: int) -> Document:
        try:
            if not body:
                raise CommandError(59, "no such command: ''")
            request = Request(body, conn_id)
            handler = _HANDLERS.get(request.name)
            if handler is None:
                raise CommandError(59, f"no such command: '{request.name}'")
            # A bare txnNumber (a retryable write) is harmless; a transaction is not.
            if "startTransaction" in body or "autocommit" in body:
                raise CommandError(20, NO_TRANSACTIONS)
            journal = self.store.journal
            with self._locked(request):
                try:
                    reply = handler(self, request)
                finally:
                    # Appended while the locks are held: the journal's order is the
                    # order the writes were applied in.
                    record = journal.commit() if journal is not None else 0
            if record and _wants_journal(body.get("writeConcern")):
                journal.sync(record)  # type: ignore[union-attr]
            return reply
        except Exception as exc:
            return as_command_error(exc).reply()

    @contextlib.contextmanager
    def _locked(self, req: Request) -> Iterator[None]:
        """Hold what the command needs for its whole run (see locks.py)."""
        name, locks = req.name, self.store.locks
        nested = False
        if name in _HOLD_TARGET:
            held = [req.ns]
        elif name == "renameCollection":
            held, nested = [str(req.body[name]), str(req.body.get("to", ""))], True
        elif name == "dropDatabase":
            held = []  # each collection is dropped under its own lock
        elif name == "aggregate" and (target := output_namespace(req.db, req.body.get("pipeline"))):
            held, nested = [target], True
        else:
            yield  # reads lock only to list their documents (engine.find_docs)
            return
        with contextlib.ExitStack() as stack:
            if self.store.journal is not None:
                stack.enter_context(locks.gate.shared())
            if nested:
                stack.enter_context(locks.nesting)
            for ns in sorted(held):
                stack.enter_context(locks.of(ns))
            yield

    # -- cursors ------------------------------------------------------------------------

    def _cursor_reply(
        self,
        ns: str,
        docs: list[Document],
        batch_size: int | None = DEFAULT_BATCH,
        transform: Callable[[Document], Document | None] | None = None,
        single_batch: bool = False,
    ) -> Document:
        cursor = Cursor(ns, docs, transform)
        batch = cursor.next_batch(batch_size)
        cursor_id = 0
        if not cursor.exhausted and not single_batch:
            cursor_id = random.randint(1, 2**63 - 1)  # noqa: S311 (an id, not a secret)
            with self._cursors_lock:
                self._forget_idle_cursors()
                self.cursors[cursor_id] = cursor
        return {"cursor": {"firstBatch": batch, "id": Int64(cursor_id), "ns": ns}, "ok": 1.0}

    def _forget_idle_cursors(self) -> None:
        cutoff = time.monotonic() - CURSOR_IDLE_SECONDS
        for cursor_id in [i for i, c in list(self.cursors.items()) if c.used < cutoff]:
            self.cursors.pop(cursor_id, None)

    @handles("getMore")
    def get_more(self, req: Request) -> Document:
        cursor_id = int(req.body["getMore"])
        cursor = self.cursors.get(cursor_id)
        if cursor is None:
            raise CommandError(43, f"cursor id {cursor_id} not found")
        ns = f"{req.db}.{req.body.get('collection')}"
        if ns != cursor.ns:
            raise CommandError(13, f"getMore on {ns}, but the cursor belongs to {cursor.ns}")
        batch = cursor.next_batch(_batch_size(req.body.get("batchSize"), None))
        if cursor.exhausted:
            self.cursors.pop(cursor_id, None)
            cursor_id = 0
        return {"cursor": {"nextBatch": batch, "id": Int64(cursor_id), "ns": ns}, "ok": 1.0}

    @handles("killCursors")
    def kill_cursors(self, req: Request) -> Document:
        ids = [int(i) for i in req.body.get("cursors", [])]
        killed = [Int64(i) for i in ids if self.cursors.pop(i, None) is not None]
        missing = [Int64(i) for i in ids if i not in killed]
        return {
            "cursorsKilled": killed,
            "cursorsNotFound": missing,
            "cursorsAlive": [],
            "cursorsUnknown": [],
            "ok": 1.0,
        }

    # -- reads --------------------------------------------------------------------------

    @handles("find")
    def find(self, req: Request) -> Document:
        body = req.body
        _reject_collation(body)
        for option in ("tailable", "awaitData", "min", "max", "returnKey", "showRecordId"):
            if body.get(option):
                raise not_supported(f"find with {option}")
        query, sort = body.get("filter") or {}, body.get("sort")
        skip, limit = _non_negative(body, "skip"), _non_negative(body, "limit")
        # Without a sort, the scan can stop once skip + limit documents matched.
        enough = skip + limit if limit and not sort else None
        let = let_variables(body.get("let"))
        docs = find_docs(self.store.get(req.db, req.target), query, let, enough)
        if sort:
            docs = sort_docs(docs, sort)
        docs = docs[skip : skip + limit] if limit else docs[skip:]
        projection = body.get("projection")
        transform = (lambda doc: project(doc, projection, query)) if projection else None
        batch_size = _batch_size(body.get("batchSize"), DEFAULT_BATCH)
        single = bool(body.get("singleBatch"))
        return self._cursor_reply(req.ns, docs, batch_size, transform, single)

    @handles("aggregate")
    def aggregate(self, req: Request) -> Document:
        body = req.body
        pipeline = body.get("pipeline")
        if not isinstance(pipeline, list):
            raise CommandError(14, "'pipeline' option must be specified as an array")
        if any(isinstance(s, dict) and "$changeStream" in s for s in pipeline):
            raise CommandError(40573, "The $changeStream stage is only supported on replica sets")
        if body.get("explain"):
            raise not_supported("explain")
        _reject_collation(body)
        if not isinstance(body.get("cursor"), dict):
            raise CommandError(9, "The 'cursor' option is required for aggregate")
        if not isinstance(body["aggregate"], str):
            raise not_supported("database-level aggregation (aggregate: 1)")
        let = let_variables(body.get("let"))
        coll = self.store.get(req.db, req.target)
        if pipeline and isinstance(pipeline[0], dict) and list(pipeline[0]) == ["$match"]:
            docs = find_docs(coll, pipeline[0]["$match"], let)  # uses the indexes
            pipeline = pipeline[1:]
        else:
            docs = find_docs(coll, {}, let)
        if not is_read_only(pipeline):
            docs = [clone(doc) for doc in docs]
        out = run_pipeline(self.store, req.db, docs, pipeline, let)
        if pipeline and isinstance(pipeline[-1], dict) and {"$out", "$merge"} & set(pipeline[-1]):
            out = []
        batch_size = _batch_size(body["cursor"].get("batchSize"), DEFAULT_BATCH)
        return self._cursor_reply(req.ns, out, batch_size)

    @handles("count")
    def count(self, req: Request) -> Document:
        _reject_collation(req.body)
        docs = find_docs(self.store.get(req.db, req.target), req.body.get("query") or {})
        n = max(len(docs) - _non_negative(req.body, "skip"), 0)
        limit = abs(int(req.body.get("limit") or 0))
        return {"n": min(n, limit) if limit else n, "ok": 1.0}

    @handles("distinct")
    def distinct(self, req: Request) -> Document:
        _reject_collation(req.body)
        key = req.body.get("key")
        if not isinstance(key, str):
            raise CommandError(14, "BSON field 'distinct.key' is missing or not a string")
        docs = find_docs(self.store.get(req.db, req.target), req.body.get("query") or {})
        return {"values": distinct_values(docs, key), "ok": 1.0}

    # -- writes -------------------------------------------------------------------------

    @handles("insert")
    def insert(self, req: Request) -> Document:
        coll = self.store.create(req.db, req.target)
        done, errors = _each_write(req, "documents", lambda doc: coll.insert(with_id_first(doc)))
        return _write_reply(len(done), errors)

    @handles("update")
    def update(self, req: Request) -> Document:
        done, errors = _each_write(req, "updates", lambda stmt: self._update_statement(req, stmt))
        upserted = [
            {"index": i, "_id": inserted["_id"]}
            for i, (_, _, inserted) in done
            if inserted is not None
        ]
        more = {"upserted": upserted} if upserted else {}
        n, modified = sum(r[0] for _, r in done), sum(r[1] for _, r in done)
        return _write_reply(n, errors, nModified=modified, **more)

    def _update_statement(self, req: Request, stmt: Document) -> tuple[int, int, Document | None]:
        """(matched, modified, upserted document) for one update statement."""
        for name in stmt.keys() - _UPDATE_STATEMENT_FIELDS:  # e.g. `sort`, new in 8.0
            raise CommandError(40415, f"BSON field 'update.updates.{name}' is an unknown field.")
        _reject_collation(stmt)
        query, update = stmt.get("q") or {}, stmt.get("u", {})
        multi, filters = stmt.get("multi", False), stmt.get("arrayFilters")
        if multi and not isinstance(update, list) and not is_operator_update(update):
            raise CommandError(9, "multi update is not supported for replacement-style update")
        let = let_variables(req.body.get("let"), stmt.get("c"))
        coll = self.store.get(req.db, req.target)
        docs = find_docs(coll, query, let, None if multi else 1)
        modified = 0
        for old in docs:
            new = apply_update(old, update, query, filters, let=let)
            if new != old:
                coll.replace(old, new)  # type: ignore[union-attr]
                modified += 1
        if docs or not stmt.get("upsert"):
            return len(docs), modified, None
        doc = upsert_document(query, update, filters, let)
        self.store.create(req.db, req.target).insert(doc)
        return 1, 0, doc

    @handles("delete")
    def delete(self, req: Request) -> Document:
        coll = self.store.get(req.db, req.target)
        let = let_variables(req.body.get("let"))

        def delete_matches(stmt: Document) -> int:
            _reject_collation(stmt)
            docs = find_docs(coll, stmt.get("q") or {}, let, 1 if stmt.get("limit") else None)
            for doc in docs:
                coll.delete(doc)  # type: ignore[union-attr]
            return len(docs)

        done, errors = _each_write(req, "deletes", delete_matches)
        return _write_reply(sum(count for _, count in done), errors)

    @handles("findAndModify", "findandmodify")
    def find_and_modify(self, req: Request) -> Document:
        body = req.body
        _reject_collation(body)
        query, update = body.get("query") or {}, body.get("update", {})
        remove, new_flag = body.get("remove", False), body.get("new", False)
        if remove and ("update" in body or new_flag or body.get("upsert")):
            raise CommandError(9, "remove cannot be combined with update, new or upsert")
        if not remove and "update" not in body:
            raise CommandError(9, "Either an update or remove=true must be specified")
        coll = self.store.get(req.db, req.target)
        sort, let = body.get("sort"), let_variables(body.get("let"))
        docs = find_docs(coll, query, let, None if sort else 1)
        docs = sort_docs(docs, sort) if sort else docs
        old = docs[0] if docs else None
        result: Document | None = old
        if remove:
            if old is not None:
                coll.delete(old)  # type: ignore[union-attr]
            last_error: Document = {"n": int(old is not None)}
        elif old is not None:
            new = apply_update(old, update, query, body.get("arrayFilters"), let=let)
            if new != old:
                coll.replace(old, new)  # type: ignore[union-attr]
            result = new if new_flag else old
            last_error = {"n": 1, "updatedExisting": True}
        elif body.get("upsert"):
            new = upsert_document(query, update, body.get("arrayFilters"), let)
            self.store.create(req.db, req.target).insert(new)
            result = new if new_flag else None
            last_error = {"n": 1, "updatedExisting": False, "upserted": new["_id"]}
        else:
            last_error = {"n": 0, "updatedExisting": False}
        value = None if result is None else project(result, body.get("fields"), query)
        return {"lastErrorObject": last_error, "value": value, "ok": 1.0}

    # -- collections and indexes --------------------------------------------------------

    @handles("create")
    def create(self, req: Request) -> Document:
        for option, feature in _CREATE_UNSUPPORTED.items():
            if req.body.get(option):
                raise not_supported(feature)
        if self.store.get(req.db, req.target) is None:
            self.store.create(req.db, req.target)
        return {"ok": 1.0}  # MongoDB 7: creating an identical existing collection succeeds

    @handles("drop")
    def drop(self, req: Request) -> Document:
        coll = self.store.drop(req.db, req.target)
        if coll is None:
            return {"ok": 1.0}  # MongoDB 7 no longer fails on a missing collection
        return {"nIndexesWas": len(coll.indexes) + 1, "ns": coll.ns, "ok": 1.0}

    @handles("dropDatabase")
    def drop_database(self, req: Request) -> Document:
        for name, coll in self.store.collections(req.db):
            with coll.lock:
                self.store.drop(req.db, name)
        return {"dropped": req.db, "ok": 1.0}

    @handles("renameCollection")
    def rename_collection(self, req: Request) -> Document:
        source, target = str(req.body["renameCollection"]), str(req.body.get("to", ""))
        (src_db, _, src), (dst_db, _, dst) = source.partition("."), target.partition(".")
        coll = self.store.get(src_db, src)
        if coll is None:
            raise CommandError(26, f"Source collection {source} does not exist")
        if not dst or "$" in dst:
            raise CommandError(73, f"Invalid target namespace: {target}")
        if self.store.get(dst_db, dst) is not None:
            if not req.body.get("dropTarget"):
                raise CommandError(48, "target namespace exists")
            self.store.drop(dst_db, dst)
        self.store.rename(source, target)
        return {"ok": 1.0}

    @handles("listCollections")
    def list_collections(self, req: Request) -> Document:
        query = req.body.get("filter") or {}
        infos = []
        for name, coll in self.store.collections(req.db):
            info: Document = {"name": name, "type": "collection"}
            if not req.body.get("nameOnly"):
                info |= {"options": coll.options, "info": {"readOnly": False}, "idIndex": _ID}
            if matches(query, info):
                infos.append(info)
        return self._cursor_reply(f"{req.db}.$cmd.listCollections", infos, None)

    @handles("listDatabases")
    def list_databases(self, req: Request) -> Document:
        query = req.body.get("filter") or {}
        dbs = []
        for name in self.store.names():
            info: Document = {"name": name}
            if not req.body.get("nameOnly"):
                colls = self.store.collections(name)
                info |= {"sizeOnDisk": 0, "empty": not any(c.docs for _, c in colls)}
            if matches(query, info):
                dbs.append(info)
        return {"databases": dbs, "totalSize": 0, "totalSizeMb": 0, "ok": 1.0}

    @handles("createIndexes")
    def create_indexes(self, req: Request) -> Document:
        specs = req.body.get("indexes")
        if not isinstance(specs, list) or not specs:
            raise CommandError(2, "Must specify at least one index to create")
        existed = self.store.get(req.db, req.target) is not None
        coll = self.store.create(req.db, req.target)
        before = len(coll.indexes) + 1
        added: list[str] = []
        try:
            for spec in map(_index_spec, specs):
                if not _index_exists(coll, spec):
                    coll.add_index(spec)
                    added.append(spec["name"])
        except Exception:
            for name in added:
                coll.drop_index(name)
            if not existed:
                self.store.drop(req.db, req.target)
            raise
        reply: Document = {
            "numIndexesBefore": before,
            "numIndexesAfter": len(coll.indexes) + 1,
            "createdCollectionAutomatically": not existed,
        }
        if not added:
            reply["note"] = "all indexes already exist"
        return reply | {"ok": 1.0}

    @handles("listIndexes")
    def list_indexes(self, req: Request) -> Document:
        coll = self.store.get(req.db, req.target)
        if coll is None:
            raise CommandError(26, f"ns does not exist: {req.ns}")
        return self._cursor_reply(req.ns, coll.index_specs(), None)

    @handles("dropIndexes", "deleteIndexes")
    def drop_indexes(self, req: Request) -> Document:
        coll = self.store.get(req.db, req.target)
        if coll is None:
            raise CommandError(26, f"ns not found {req.ns}")
        before = len(coll.indexes) + 1
        wanted = req.body.get("index")
        if wanted == "*":
            wanted = list(coll.indexes)
        for name in wanted if isinstance(wanted, list) else [wanted]:
            coll.drop_index(_index_name(coll, name))
        return {"nIndexesWas": before, "ok": 1.0}

    # -- server and sessions ------------------------------------------------------------

    @handles("hello", "isMaster", "ismaster")
    def hello(self, req: Request) -> Document:
        primary = "isWritablePrimary" if req.name == "hello" else "ismaster"
        reply: Document = {"helloOk": True} if req.body.get("helloOk") else {}
        return reply | {
            primary: True,
            "maxBsonObjectSize": MAX_BSON_SIZE,
            "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": MAX_WRITE_BATCH,
            "localTime": datetime.datetime.now(datetime.UTC),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": req.conn_id,
            "minWireVersion": 0,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
            "ok": 1.0,
        }

    @handles("buildInfo", "buildinfo")
    def build_info(self, req: Request) -> Document:
        return {
            "version": VERSION,
            "gitVersion": "embedded",
            "versionArray": [int(p) for p in VERSION.split(".")] + [0],
            "bits": 64,
            "debug": False,
            "maxBsonObjectSize": MAX_BSON_SIZE,
            "storageEngines": ["embedded"],
            "modules": [],
            "ok": 1.0,
        }

    @handles("serverStatus")
    def server_status(self, req: Request) -> Document:
        uptime = time.monotonic() - self.started
        return {
            "host": socket.gethostname(),
            "version": VERSION,
            "process": "app.embedded",
            "pid": Int64(os.getpid()),
            "uptime": int(uptime),
            "uptimeMillis": Int64(int(uptime * 1000)),
            "localTime": datetime.datetime.now(datetime.UTC),
            "connections": {"current": self.connections, "available": 10_000},
            "ok": 1.0,
        }

    @handles("dbStats")
    def db_stats(self, req: Request) -> Document:
        colls = [coll for _, coll in self.store.collections(req.db)]
        return {
            "db": req.db,
            "collections": len(colls),
            "views": 0,
            "objects": sum(len(c.docs) for c in colls),
            "indexes": sum(len(c.indexes) + 1 for c in colls),
            "ok": 1.0,
        }

    @handles("collStats")
    def coll_stats(self, req: Request) -> Document:
        coll = self.store.get(req.db, req.target)
        if coll is None:
            raise CommandError(26, f"ns not found {req.ns}")
        names = [spec["name"] for spec in coll.index_specs()]
        return {"ns": req.ns, "count": len(coll.docs), "nindexes": len(names), "ok": 1.0}

    @handles("getParameter")
    def get_parameter(self, req: Request) -> Document:
        known = {"featureCompatibilityVersion": {"version": VERSION[:3]}}
        every = req.body["getParameter"] == "*"
        found = {k: v for k, v in known.items() if every or k in req.body}
        if not found:
            raise CommandError(72, "no option found to get")
        return found | {"ok": 1.0}

    @handles("fsync")
    def fsync(self, req: Request) -> Document:
        if req.body.get("lock"):
            raise not_supported("fsync with lock")
        if self.checkpoint is not None:
            self.checkpoint()
        return {"numFiles": 1, "ok": 1.0}

    @handles("getLastError", "getlasterror")
    def get_last_error(self, req: Request) -> Document:
        return {"n": 0, "err": None, "connectionId": req.conn_id, "ok": 1.0}

    @handles("ping", "endSessions", "killAllSessions", "killSessions", "refreshSessions", "logout")
    def ok(self, req: Request) -> Document:
        return {"ok": 1.0}

    @handles("commitTransaction", "abortTransaction")
    def transactions(self, req: Request) -> Document:
        raise CommandError(20, NO_TRANSACTIONS)

    @handles("explain", "mapReduce", "collMod", "validate", "compact", "createUser")
    def unsupported(self, req: Request) -> Document:
        raise CommandError(115, f"{req.name} is not supported by the embedded development server")

    @handles("replSetGetStatus")
    def repl_set_status(self, req: Request) -> Document:
        raise CommandError(76, "not running with --replSet")

    @handles("saslStart", "saslContinue", "authenticate")
    def authenticate(self, req: Request) -> Document:
        raise CommandError(18, "Authentication is not supported: connect without credentials")


_ID = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
_PLAIN_TYPES = {"2d", "2dsphere", "hashed"}  # kept as plain indexes: lookups stay exact


def _index_spec(spec: Any) -> Document:
    key, name = spec.get("key"), spec.get("name")
    if not isinstance(key, dict) or not key:
        raise CommandError(67, "Index keys cannot be empty.")
    if not isinstance(name, str) or not name:
        raise CommandError(9, "The 'name' field is a required property of an index specification")
    for path, kind in key.items():
        if kind == "text" or "$**" in path:
            raise not_supported("text and wildcard indexes")
        if not (kind in _PLAIN_TYPES or (isinstance(kind, (int, float)) and kind != 0)):
            raise CommandError(67, f"Values in the index key pattern can't be {kind!r}")
    _reject_collation(spec)
    ttl = spec.get("expireAfterSeconds")
    if ttl is not None and (not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl < 0):
        raise CommandError(67, "TTL index 'expireAfterSeconds' option must be a number >= 0")
    return {"v": 2} | {k: v for k, v in spec.items() if k not in ("v", "ns", "background")}


def _index_exists(coll: Collection, spec: Document) -> bool:
    """True for an identical index; MongoDB's conflict errors for near misses."""
    key = list(spec["key"].items())
    if spec["name"] == "_id_" or key == [("_id", 1)]:
        if key != [("_id", 1)]:
            raise CommandError(86, "the _id_ index name is reserved for the {_id: 1} index")
        return True
    same_key = [i for i in coll.indexes.values() if list(i.spec["key"].items()) == key]
    existing = coll.indexes.get(spec["name"])
    if existing is not None:
        if existing.spec == spec:
            return True
        code = 85 if existing in same_key else 86
        message = "An existing index has the same name as the requested index"
        raise CommandError(code, f"{message}. Requested: {spec}, existing: {existing.spec}")
    for other in same_key:
        if other.spec.get("partialFilterExpression") == spec.get("partialFilterExpression"):
            raise CommandError(85, f"Index already exists with a different name: {other.name}")
    return False


def _index_name(coll: Collection, wanted: Any) -> str:
    if isinstance(wanted, dict):
        for index in coll.indexes.values():
            if list(index.spec["key"].items()) == list(wanted.items()):
                return index.name
        if list(wanted.items()) == [("_id", 1)]:
            raise CommandError(72, "cannot drop _id index")
        raise CommandError(27, f"can't find index with key: {wanted}")
    if wanted == "_id_":
        raise CommandError(72, "cannot drop _id index")
    if wanted not in coll.indexes:
        raise CommandError(27, f"index not found with name [{wanted}]")
    return str(wanted)

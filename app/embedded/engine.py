"""Query, update and aggregation over the store.

mongomock_ng supplies the semantics (filters, update operators, projection, pipeline
stages); this module adds what makes it fast: index lookups instead of scans, sorting on
native Python keys instead of pairwise BSON comparisons, a hash-based `$group`, and no
copies unless a stage would mutate its input.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import bson
import mongomock_ng
from bson.objectid import ObjectId
from bson.regex import Regex
from mongomock_ng import aggregate, filtering
from sentinels import NOTHING

from app.embedded.errors import CommandError, not_supported
from app.embedded.match import (
    check_query,
    compile_query,
    key_of,
    matches,
    sort_value,
    type_name,
)
from app.embedded.store import (
    CODEC,
    MAX_BSON_SIZE,
    Collection,
    Document,
    Store,
    clone,
    conjuncts,
    too_large,
)

# mongomock_ng keeps its update and projection logic on Collection; a private, empty one
# serves as the implementation. The lock guards the per-call state it keeps there.
_SCRATCH: Any = mongomock_ng.MongoClient().get_database("embedded").get_collection("scratch")
_SCRATCH_LOCK = threading.Lock()

UPDATE_OPERATORS = {
    "$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$setOnInsert",
    "$currentDate", "$addToSet", "$pop", "$pull", "$pullAll", "$push", "$bit",
}  # fmt: skip


# -- find -----------------------------------------------------------------------------


def let_variables(*scopes: Any) -> Document | None:
    """A command's `let` (and an update statement's `c`): each value is an expression,
    evaluated once, before any document is looked at; later names may use earlier ones."""
    found: Document = {}
    for scope in scopes:
        if scope is None:
            continue
        if not isinstance(scope, dict):
            raise CommandError(14, "BSON field 'let' is the wrong type, expected type 'object'")
        for name, expr in scope.items():
            found[name] = aggregate._parse_expression(expr, {}, user_vars=found)
    return found or None


def find_docs(
    coll: Collection | None, query: Document, let: Any = None, limit: int | None = None
) -> list[Document]:
    """Matching documents in natural order, the first `limit` of them if given.

    They are the stored objects, not copies: callers must not modify them. The collection
    is locked only while the candidates are listed; matching them needs no lock, since
    stored documents are replaced, never changed.
    """
    check_query(query)
    if coll is None or not coll.docs:
        matches(query, {}, let)  # still reject an invalid filter
        return []
    with coll.lock:
        docs = coll.candidates(query)
        if docs is None:
            docs = list(coll.docs.values())
    found = filter(compile_query(query, let), docs) if query else docs
    return list(itertools.islice(found, limit))


def _field_sort_key(path: str, descending: bool) -> Callable[[Document], tuple[Any, ...]]:
    """Arrays sort by their smallest element ascending, their largest descending."""
    pick = max if descending else min

    def key(doc: Document) -> tuple[Any, ...]:
        keys: list[tuple[Any, ...]] = []
        for value in filtering.iter_key_candidates(path, doc) or [NOTHING]:
            if isinstance(value, list):
                keys.extend(map(sort_value, value) if value else [(4,)])  # [] sorts before null
            else:
                keys.append(sort_value(value))
        return keys[0] if len(keys) == 1 else pick(keys)

    return key


def sort_docs(docs: list[Document], spec: Document) -> list[Document]:
    """Stable multi-key sort: one pass per key, last key first."""
    docs = list(docs)
    for path, direction in reversed(list(spec.items())):
        if isinstance(direction, dict):
            raise not_supported("sorting by $meta")
        if direction not in (1, -1):
            raise CommandError(15975, "$sort key ordering must be 1 (for ascending) or -1")
        if path == "$natural":
            docs = docs if direction == 1 else docs[::-1]
            continue
        docs.sort(key=_field_sort_key(path, direction < 0), reverse=direction < 0)
    return docs


def project(doc: Document, projection: Document | None, query: Document) -> Document | None:
    """A new document with `projection` applied (None when a `$size` projection drops it)."""
    if not projection:
        return doc
    projected: Document | None = _SCRATCH._copy_only_fields(doc, dict(projection), dict, query)
    for field in projection:
        # mongomock_ng returns the element a positional `arr.$` picks; MongoDB an array of it.
        name = field[:-2]
        picked = projected.get(name) if projected and field.endswith(".$") else None
        if picked is not None and not isinstance(picked, list):
            projected[name] = [picked]  # type: ignore[index]
    return projected


def distinct_values(docs: Iterable[Document], path: str) -> list[Any]:
    """Distinct values at `path` (arrays contribute their elements), in BSON order."""
    found: dict[Any, Any] = {}
    for doc in docs:
        for value in filtering.iter_key_candidates(path, doc):
            for item in value if isinstance(value, list) else [value]:
                if item is not NOTHING:
                    found.setdefault(key_of(item), item)
    return sorted(found.values(), key=sort_value)


# -- update ---------------------------------------------------------------------------


def _mul(doc: Any, field: str, value: Any, codec_options: Any = None) -> None:
    """`$mul`, which mongomock_ng lacks; a missing field becomes 0, as in MongoDB."""
    if isinstance(doc, dict):
        doc[field] = doc.get(field, 0) * value
    elif isinstance(doc, list):
        doc[int(field)] *= value


def is_operator_update(update: Any) -> bool:
    if isinstance(update, list):
        return False
    keys = [k.startswith("$") for k in update]
    if any(keys) and not all(keys):
        bad = next(k for k in update if not k.startswith("$"))
        raise CommandError(9, f"Unknown modifier: {bad}. Expected a valid update modifier")
    return bool(update) and all(keys)


def apply_update(
    doc: Document,
    update: Document | list[Document],
    query: Document,
    array_filters: list[Document] | None = None,
    inserting: bool = False,
    let: Document | None = None,
) -> Document:
    """The updated copy of `doc`: replacement, operators or pipeline; `doc` is untouched."""
    if isinstance(update, list):
        [new] = run_pipeline(None, "", [clone(doc)], update, let)
        if "_id" in doc and "_id" not in new:  # a pipeline that drops `_id` keeps it
            new = {"_id": doc["_id"]} | new
        new = clone(new)
    elif is_operator_update(update):
        for op, fields in update.items():
            if op not in UPDATE_OPERATORS:
                raise CommandError(9, f"Unknown modifier: {op}. Expected a valid update modifier")
            if not isinstance(fields, dict):
                raise CommandError(9, f"Modifiers operate on fields but we found {fields!r}")
        new = clone(doc)
        _apply_operators(new, expand_positional(doc, update, array_filters), query, inserting)
    else:
        if any(k.startswith("$") for k in update):
            raise CommandError(2, "field names cannot start with $ in a replacement document")
        new = {"_id": doc["_id"]} | {k: v for k, v in update.items() if k != "_id"}
        if "_id" in update and key_of(update["_id"]) != key_of(doc.get("_id")):
            raise _immutable_id(update["_id"])
    if "_id" in doc and key_of(new.get("_id")) != key_of(doc["_id"]):
        raise _immutable_id(new.get("_id"))
    if len(bson.encode(new, codec_options=CODEC)) > MAX_BSON_SIZE:
        raise CommandError(17419, f"Resulting document after update is larger than {MAX_BSON_SIZE}")
    return new


def _apply_operators(doc: Document, update: Document, query: Document, inserting: bool) -> None:
    ops = {k: v for k, v in update.items() if k != "$mul"}
    with _SCRATCH_LOCK:
        if ops:
            _SCRATCH._apply_update_document(doc, query, ops, inserting)
        if "$mul" in update:
            _SCRATCH._update_document_fields_with_positional_awareness(
                doc, update["$mul"], query, _mul, None
            )


_POSITIONAL = re.compile(r"\$\[(\w*)\]")  # `$[]` (every element) or `$[identifier]`


def expand_positional(
    doc: Document, update: Document, array_filters: list[Document] | None
) -> Document:
    """`update` with each `$[]` and `$[identifier]` in its paths replaced by the indexes of
    the array elements they select in `doc`, at any depth (`a.$[i].b.$[j].c`)."""
    filters = _array_filters(array_filters or [])
    used: set[str] = set()
    expanded: Document = {}
    for op, fields in update.items():
        concrete: Document = {}
        for path, value in fields.items():
            parts = str(path).split(".")
            used.update(m[1] for part in parts if (m := _POSITIONAL.fullmatch(part)) and m[1])
            for found in _select(doc, parts, filters, str(path)):
                concrete[".".join(found)] = value
        if concrete:
            expanded[op] = concrete
    for unused in filters.keys() - used:
        raise CommandError(
            9, f"The array filter for identifier '{unused}' was not used in the update"
        )
    return expanded


def _array_filters(array_filters: list[Document]) -> dict[str, Document]:
    """Each filter by the one identifier its fields start with."""
    by_id: dict[str, Document] = {}
    for spec in array_filters:
        names = {str(key).split(".")[0] for key in spec} if isinstance(spec, dict) else set()
        if len(names) != 1 or any(name.startswith("$") for name in names):
            raise CommandError(
                9,
                "Error parsing array filter :: caused by :: Expected a single top-level field name",
            )
        [name] = names
        if name in by_id:
            raise CommandError(
                9, f"Found multiple array filters with the same top-level field name {name}"
            )
        by_id[name] = spec
    return by_id


def _select(doc: Any, parts: list[str], filters: dict[str, Document], path: str) -> list[list[str]]:
    for n, part in enumerate(parts):
        positional = _POSITIONAL.fullmatch(part)
        if positional is None:
            continue
        array = _walk(doc, parts[:n])
        where = ".".join(parts[:n])
        if array is NOTHING:
            message = (
                f"The path '{where}' must exist in the document in order to apply array updates."
            )
            raise CommandError(2, message)
        if not isinstance(array, list):
            raise CommandError(2, f"Cannot apply array updates to non-array element {where}")
        name = positional[1]
        if name and name not in filters:
            raise CommandError(2, f"No array filter found for identifier '{name}' in path '{path}'")
        picked = [
            i for i, item in enumerate(array) if not name or matches(filters[name], {name: item})
        ]
        rest = parts[n + 1 :]
        return [
            found
            for i in picked
            for found in _select(doc, [*parts[:n], str(i), *rest], filters, path)
        ]
    return [parts]


def _walk(value: Any, parts: list[str]) -> Any:
    """The value at a path of field names and array indexes, or NOTHING."""
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part, NOTHING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return NOTHING
    return value


def _immutable_id(value: Any) -> CommandError:
    return CommandError(
        66,
        "After applying the update, the (immutable) field '_id' was found to have been "
        f"altered to _id: {value!r}",
    )


def upsert_document(
    query: Document,
    update: Document | list[Document],
    array_filters: list[Document] | None,
    let: Document | None = None,
) -> Document:
    """The document an upsert inserts: the query's equality fields, then the update."""
    equalities = {
        field: cond
        for field, cond in conjuncts(query)
        if not (isinstance(cond, dict) and any(k.startswith("$") and k != "$eq" for k in cond))
        and not isinstance(cond, (Regex, re.Pattern))
    }
    expanded, _ = _SCRATCH._discard_operators(_SCRATCH._expand_dots(equalities))
    seed: Document = dict(expanded or {})
    if isinstance(update, list) or is_operator_update(update):
        doc = apply_update(seed, update, query, array_filters, inserting=True, let=let)
    else:
        doc = {"_id": seed["_id"]} if "_id" in seed else {}
        doc |= update
    return with_id_first(clone(doc))


def with_id_first(doc: Document) -> Document:
    """MongoDB stores `_id` first, generating an ObjectId when it is missing."""
    if "_id" not in doc:
        return {"_id": ObjectId()} | doc
    if isinstance(doc["_id"], list):
        raise CommandError(2, "The '_id' value cannot be of type array")
    _check_id_fields(doc["_id"])
    if next(iter(doc)) != "_id":
        return {"_id": doc["_id"]} | {k: v for k, v in doc.items() if k != "_id"}
    return doc


def _check_id_fields(value: Any) -> None:
    """An `_id` may hold sub-documents, but none with a `$`-prefixed field, at any depth."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and key.startswith("$"):
            message = (
                f"_id fields may not contain '$'-prefixed fields: {key} is not valid for storage."
            )
            raise CommandError(52, message)
        _check_id_fields(item)


# -- aggregation ----------------------------------------------------------------------


class PipelineDatabase:
    """What mongomock_ng's `$lookup`, `$unionWith`, `$out` and `$merge` stages call."""

    def __init__(self, store: Store | None, name: str) -> None:
        self.store = store
        self.name = name

    @property
    def client(self) -> PipelineDatabase:
        return self

    def __getitem__(self, name: str) -> PipelineDatabase:
        return PipelineDatabase(self.store, name)

    def get_collection(self, name: str) -> PipelineCollection:
        if self.store is None:
            raise CommandError(2, "this stage is not allowed in an update pipeline")
        return PipelineCollection(self.store, self.name, name)


class PipelineCollection:
    def __init__(self, store: Store, db: str, name: str) -> None:
        self.store, self.db, self.name = store, db, name

    def find(self, query: Document | None = None) -> list[Document]:
        # Copies: $lookup embeds these in documents that later stages may modify.
        return [clone(d) for d in find_docs(self.store.get(self.db, self.name), query or {})]

    def find_one(self, query: Document | None = None) -> Document | None:
        found = self.find(query)
        return found[0] if found else None

    def insert_one(self, doc: Document) -> None:
        raw = bson.encode(doc, codec_options=CODEC)
        if len(raw) > MAX_BSON_SIZE:
            raise too_large(len(raw), doc)
        copy = bson.decode(raw, codec_options=CODEC)
        self.store.create(self.db, self.name).insert(with_id_first(copy))

    def insert_many(self, docs: list[Document]) -> None:
        for doc in docs:
            self.insert_one(doc)

    def replace_one(self, query: Document, doc: Document) -> None:
        coll = self.store.create(self.db, self.name)
        for old in find_docs(coll, query)[:1]:
            coll.replace(old, apply_update(old, doc, query))

    def drop(self) -> None:
        # `$out` replaces the documents but, as in MongoDB, keeps the indexes.
        coll = self.store.get(self.db, self.name)
        for doc in list(coll.docs.values()) if coll else []:
            coll.delete(doc)  # type: ignore[union-attr]


# Stages that never modify their input documents, so stored documents can be passed as is.
_READ_ONLY_STAGES = {
    "$match", "$group", "$sort", "$skip", "$limit", "$count", "$project", "$unwind",
    "$sortByCount", "$replaceRoot", "$replaceWith", "$sample", "$bucket",
}  # fmt: skip


def is_read_only(pipeline: list[Document]) -> bool:
    for stage in pipeline:
        if not isinstance(stage, dict):
            return False
        for name, spec in stage.items():
            if name == "$facet" and isinstance(spec, dict):
                continue  # each facet checks its own sub-pipeline (see _facet)
            if name in ("$addFields", "$set") and not any("." in f for f in spec):
                continue  # a top-level field is set on a copy; dotted ones write through
            if name not in _READ_ONLY_STAGES:
                return False
    return True


def output_namespace(db: str, pipeline: Any) -> str | None:
    """The collection a pipeline's `$out` or `$merge` writes to, if it has one."""
    stages = pipeline if isinstance(pipeline, list) else []
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict) or not {"$out", "$merge"} & set(stage):
            continue
        if i != len(stages) - 1:
            [name] = {"$out", "$merge"} & set(stage)
            raise CommandError(40601, f"{name} can only be the final stage in the pipeline")
        target = stage.get("$out", stage.get("$merge"))
        if "$merge" in stage and isinstance(target, dict):
            target = target.get("into")
        if isinstance(target, dict):
            return f"{target.get('db', db)}.{target.get('coll')}"
        return f"{db}.{target}"
    return None


def run_pipeline(
    store: Store | None, db: str, docs: list[Document], pipeline: list[Document], let: Any = None
) -> list[Document]:
    database = PipelineDatabase(store, db)
    for i, stage in enumerate(pipeline):
        if not isinstance(stage, dict) or len(stage) != 1:
            message = "A pipeline stage specification object must contain exactly one field."
            raise CommandError(40323, message)
        [(name, spec)] = stage.items()
        if name == "$match":
            check_query(spec)
            docs = list(filter(compile_query(spec, let), docs))
        elif name == "$sort":
            docs = sort_docs(docs, spec)
        elif name == "$group":
            docs = group(docs, spec, let)
        elif name == "$bucket":
            docs = bucket(docs, spec, let)
        elif name == "$facet" and isinstance(spec, dict):
            docs = [{title: _facet(store, db, docs, sub, let) for title, sub in spec.items()}]
        elif name == "$unwind" and is_read_only(pipeline[i + 1 :]) and _unwindable(docs, spec):
            docs = unwind(docs, spec)
        elif name == "$changeStream":
            raise CommandError(40573, "The $changeStream stage is only supported on replica sets")
        elif name not in aggregate._PIPELINE_HANDLERS:
            raise CommandError(40324, f"Unrecognized pipeline stage name: '{name}'")
        else:
            docs = list(aggregate.process_pipeline(docs, database, [stage], None, user_vars=let))
    return docs


def _facet(
    store: Store | None, db: str, docs: list[Document], pipeline: Any, let: Any
) -> list[Document]:
    if not isinstance(pipeline, list):
        raise CommandError(40170, "arguments to $facet must be arrays")
    # Facets share their input: one that modifies documents gets its own copies.
    own = docs if is_read_only(pipeline) else [clone(doc) for doc in docs]
    return run_pipeline(store, db, own, pipeline, let)


def _unwindable(docs: list[Document], spec: Any) -> bool:
    """Whether `unwind` handles this stage: a plain path through sub-documents only."""
    options = spec if isinstance(spec, dict) else {"path": spec}
    path = options.get("path")
    if set(options) - {"path", "preserveNullAndEmptyArrays"} or not isinstance(path, str):
        return False
    parents = path[1:].split(".")[:-1]
    return path.startswith("$") and all(
        isinstance(value, dict) for doc in docs for value in _parents(doc, parents)
    )


def _parents(doc: Document, parts: list[str]) -> Iterable[Any]:
    value: Any = doc
    for part in parts:
        value = value.get(part, {})
        yield value


def unwind(docs: list[Document], spec: Any) -> list[Document]:
    """`$unwind` with shallow copies (mongomock_ng deep-copies every output document).

    Outputs share sub-documents with their input, so it only runs when no later stage
    modifies documents in place.
    """
    options = spec if isinstance(spec, dict) else {"path": spec}
    parts = options["path"][1:].split(".")
    preserve = bool(options.get("preserveNullAndEmptyArrays"))
    out: list[Document] = []
    for doc in docs:
        value = _get_path(doc, parts)
        if isinstance(value, list) and value:
            out.extend(_with_path(doc, parts, item) for item in value)
        elif value is NOTHING or value is None or value == []:
            if preserve:  # MongoDB drops an empty array's field but keeps a null
                out.append(_with_path(doc, parts, NOTHING) if value == [] else doc)
        else:
            out.append(doc)  # a non-array value unwinds to itself
    return out


def _get_path(doc: Document, parts: list[str]) -> Any:
    value: Any = doc
    for part in parts:
        value = value.get(part, NOTHING) if isinstance(value, dict) else NOTHING
    return value


def _with_path(doc: Document, parts: list[str], value: Any) -> Document:
    """A copy of `doc` with the value at `parts` replaced (removed for NOTHING)."""
    new = dict(doc)
    if len(parts) > 1:
        new[parts[0]] = _with_path(doc.get(parts[0], {}), parts[1:], value)
    elif value is NOTHING:
        new.pop(parts[0], None)
    else:
        new[parts[0]] = value
    return new


def _getter(expr: Any, let: Any) -> Callable[[Document], Any]:
    """Evaluate an expression per document, skipping the parser for `$field` and constants."""
    if isinstance(expr, str) and expr[:1] == "$" and expr[1:2] != "$" and "." not in expr:
        field = expr[1:]
        return lambda doc: doc.get(field, NOTHING)
    if not isinstance(expr, (str, dict, list)):
        return lambda doc: expr
    return lambda doc: aggregate._parse_expression(expr, doc, user_vars=let)


def group(docs: list[Document], spec: Document, let: Any = None) -> list[Document]:
    """`$group` by hashing keys (mongomock_ng sorts with pairwise BSON comparisons)."""
    if "_id" not in spec:
        raise CommandError(15955, "a group specification must include an _id")
    key_fn = _getter(spec["_id"], let)
    groups: dict[Any, tuple[Any, list[Document]]] = {}
    for doc in docs:
        key = key_fn(doc)
        key = None if key is NOTHING else key
        groups.setdefault(key_of(key), (key, []))[1].append(doc)
    out = []
    for key, members in sorted(groups.values(), key=lambda g: sort_value(g[0])):
        row = {"_id": key}
        for field, acc in spec.items():
            if field != "_id":
                row[field] = _accumulate(field, acc, members, let)
        out.append(row)
    return out


def bucket(docs: list[Document], spec: Any, let: Any = None) -> list[Document]:
    """`$bucket`: documents grouped by the boundary range their `groupBy` value falls in,
    compared in BSON order (mongomock_ng compares Python values, which fails across types)."""
    if not isinstance(spec, dict) or "groupBy" not in spec or "boundaries" not in spec:
        raise CommandError(40198, "$bucket requires 'groupBy' and 'boundaries' to be specified.")
    bounds = _boundaries(spec["boundaries"])
    keys = [sort_value(b) for b in bounds]
    get = _getter(spec["groupBy"], let)
    slots: dict[int, list[Document]] = {}
    for doc in docs:
        slot = bisect.bisect_right(keys, sort_value(get(doc))) - 1
        if not 0 <= slot < len(bounds) - 1:
            if "default" not in spec:
                message = (
                    "$switch could not find a matching branch for an input, "
                    "and no default was specified."
                )
                raise CommandError(40066, message)
            slot = len(bounds) - 1  # the default bucket
        slots.setdefault(slot, []).append(doc)
    output = spec.get("output") or {"count": {"$sum": 1}}
    rows = []
    for slot, members in slots.items():
        row = {"_id": bounds[slot] if slot < len(bounds) - 1 else spec["default"]}
        row |= {field: _accumulate(field, acc, members, let) for field, acc in output.items()}
        rows.append(row)
    return sorted(rows, key=lambda row: sort_value(row["_id"]))


def _boundaries(bounds: Any) -> list[Any]:
    """MongoDB's checks: an array of at least two values of one type, in ascending order."""
    if not isinstance(bounds, list):
        message = (
            f"The $bucket 'boundaries' field must be an array of values, but found: {bounds!r}"
        )
        raise CommandError(40200, message)
    if len(bounds) < 2:
        message = "The $bucket 'boundaries' field must have at least 2 values, but found "
        raise CommandError(40192, f"{message}{len(bounds)} value(s).")
    for i in range(1, len(bounds)):
        low, high = bounds[i - 1], bounds[i]
        if _canonical(low) != _canonical(high):
            raise CommandError(
                40193,
                "All values in the the 'boundaries' option to $bucket must have the same type. "
                f"Found conflicting types {type_name(low)} and {type_name(high)}.",
            )
        if not sort_value(low) < sort_value(high):
            raise CommandError(
                40194,
                "The 'boundaries' option to $bucket must be sorted, but elements "
                f"{i - 1} and {i} are not in ascending order ({low} is not less than {high}).",
            )
    return bounds


def _canonical(value: Any) -> Any:
    """The BSON type class MongoDB compares by: every number, NaN too, is one."""
    rank = sort_value(value)[0]
    return 10 if rank == 9 else rank


# MongoDB's $group accumulators; those mongomock_ng lacks fail as NotImplemented (238).
_ACCUMULATORS = {
    "$accumulator", "$addToSet", "$avg", "$bottom", "$bottomN", "$count", "$first", "$firstN",
    "$last", "$lastN", "$max", "$maxN", "$median", "$mergeObjects", "$min", "$minN",
    "$percentile", "$push", "$stdDevPop", "$stdDevSamp", "$sum", "$top", "$topN",
}  # fmt: skip


def _accumulate(field: str, acc: Any, members: list[Document], let: Any) -> Any:
    if not isinstance(acc, dict) or len(acc) != 1:
        raise CommandError(40234, f"The field '{field}' must be an accumulator object")
    [(op, expr)] = acc.items()
    if op not in _ACCUMULATORS:
        raise CommandError(15952, f"unknown group operator '{op}'")
    if op == "$count":
        return len(members)
    get = _getter(expr, let)
    if op in ("$first", "$last"):  # MongoDB keeps a missing value as null here
        value = get(members[0] if op == "$first" else members[-1])
        return None if value is NOTHING else value
    values = [v for v in map(get, members) if v is not NOTHING]
    if op in aggregate._GROUPING_OPERATOR_MAP:
        return aggregate._GROUPING_OPERATOR_MAP[op](values)
    if op == "$push":
        return values
    if op == "$addToSet":
        return list({key_of(v): v for v in values}.values())
    return aggregate._accumulate_group({field: acc}, members, let)[field]

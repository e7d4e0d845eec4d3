"""MongoDB wire protocol framing: OP_MSG both ways, legacy OP_QUERY in, OP_REPLY out."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import BinaryIO

import bson
from bson.errors import BSONError

from app.embedded.store import CODEC, Document

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
CHECKSUM_PRESENT, MORE_TO_COME = 1 << 0, 1 << 1
MAX_MESSAGE_SIZE = 48_000_000
_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_REPLY_PREFIX = struct.Struct("<iqii")  # responseFlags, cursorID, startingFrom, numberReturned
_request_ids = itertools.count(1)


class ProtocolError(Exception):
    """The peer sent something that is not a MongoDB message: drop the connection."""


@dataclass
class Message:
    request_id: int
    op_code: int
    body: Document | None  # the command; None when `error` says why there is none
    more_to_come: bool = False  # the client expects no reply (unacknowledged write)
    error: str = ""


def read_message(reader: BinaryIO) -> Message | None:
    """The next message, or None when the client closed the connection."""
    header = reader.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length, request_id, _, op_code = _HEADER.unpack(header)
    if not _HEADER.size < length <= MAX_MESSAGE_SIZE:
        raise ProtocolError(f"bad message length {length}")
    payload = reader.read(length - _HEADER.size)
    if len(payload) < length - _HEADER.size:
        return None
    try:
        if op_code == OP_MSG:
            body, more_to_come = _parse_op_msg(payload)
            return Message(request_id, op_code, body, more_to_come)
        if op_code == OP_QUERY:
            return Message(request_id, op_code, _parse_op_query(payload))
    except (BSONError, ValueError, IndexError) as exc:
        # The frame was whole, so the connection can carry on after an error reply.
        return Message(request_id, op_code, None, error=f"malformed message: {exc}")
    return Message(request_id, op_code, None, error=f"unsupported op code {op_code}")


def _parse_op_msg(payload: bytes) -> tuple[Document, bool]:
    flags = int.from_bytes(payload[:4], "little")
    end = len(payload) - (4 if flags & CHECKSUM_PRESENT else 0)
    body: Document | None = None
    sequences: Document = {}
    pos = 4
    while pos < end:
        kind = payload[pos]
        size = int.from_bytes(payload[pos + 1 : pos + 5], "little")
        if kind == 0:  # the command document
            body = bson.decode(payload[pos + 1 : pos + 1 + size], codec_options=CODEC)
        elif kind == 1:  # a document sequence, e.g. the `documents` of an insert
            name_end = payload.index(b"\0", pos + 5)
            name = payload[pos + 5 : name_end].decode()
            sequences[name] = bson.decode_all(payload[name_end + 1 : pos + 1 + size], CODEC)
        else:
            raise ValueError(f"unknown OP_MSG section kind {kind}")
        pos += 1 + size
    if body is None:
        raise ValueError("OP_MSG without a body section")
    return body | sequences, bool(flags & MORE_TO_COME)


def _parse_op_query(payload: bytes) -> Document:
    """Legacy OP_QUERY, which drivers may still use for the first `isMaster`."""
    name_end = payload.index(b"\0", 4)
    namespace = payload[4:name_end].decode()
    start = name_end + 1 + 8  # skip numberToSkip and numberToReturn
    size = int.from_bytes(payload[start : start + 4], "little")
    query = bson.decode(payload[start : start + size], codec_options=CODEC)
    if "$query" in query:  # the old wrapped form {$query: {...}, $readPreference: ...}
        query = query["$query"]
    return query | {"$db": namespace.partition(".")[0]}


def encode_reply(request: Message, reply: Document) -> bytes:
    body = bson.encode(reply, codec_options=CODEC)
    if request.op_code == OP_QUERY:
        prefix, op_code = _REPLY_PREFIX.pack(0, 0, 0, 1), OP_REPLY
    else:
        prefix, op_code = b"\0\0\0\0\0", OP_MSG  # flagBits 0, then a kind-0 section
    length = _HEADER.size + len(prefix) + len(body)
    return _HEADER.pack(length, next(_request_ids), request.request_id, op_code) + prefix + body

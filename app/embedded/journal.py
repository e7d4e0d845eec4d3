"""The write-ahead journal: every applied write, appended before the client hears of it.

A data file `store.bson` has its journal beside it in numbered segments,
`store.bson.journal.N`. Each command's writes become one record: a frame of payload length
and CRC-32, then the operations as concatenated BSON documents. A record is written to the
file (so it survives the server process being killed) before the command is acknowledged;
it is fsynced before a `j: true` or `w: "majority"` write is acknowledged, and otherwise by
a group commit every GROUP_COMMIT_SECONDS (the window a machine crash can lose).

A record cut short by a crash fails its length or checksum and is dropped, never applied:
replay stops reading that segment there.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import bson

from app.embedded.store import CODEC, Document, fsync_directory

log = logging.getLogger("app.embedded")
FRAME = struct.Struct("<II")  # payload length, CRC-32 of the payload
GROUP_COMMIT_SECONDS = 0.1


def segment_path(data_file: Path, number: int) -> Path:
    return data_file.with_name(f"{data_file.name}.journal.{number}")


def segments(data_file: Path) -> list[tuple[int, Path]]:
    """The journal segments beside `data_file`, oldest first."""
    pattern = re.compile(re.escape(data_file.name) + r"\.journal\.(\d+)")
    found = []
    for path in data_file.parent.glob(data_file.name + ".journal.*"):
        match = pattern.fullmatch(path.name)
        if match:
            found.append((int(match[1]), path))
    return sorted(found)


def read_segment(path: Path) -> Iterator[list[Document]]:
    """Each whole record's operations; stops at the first torn or corrupt record."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        end = pos + FRAME.size
        if end > len(data):
            break
        length, checksum = FRAME.unpack_from(data, pos)
        payload = data[end : end + length]
        if len(payload) < length or zlib.crc32(payload) != checksum:
            break
        yield bson.decode_all(payload, CODEC)
        pos = end + length
    if pos < len(data):
        log.warning("dropped a torn journal record at byte %d of %s", pos, path.name)


class Journal:
    """Appends records to the active segment; numbers them so waiters can sync up to one.

    Operations are collected per thread while a command runs (`record`), then written as
    one record (`commit`) while the command still holds its locks, so the journal's order
    of writes to a collection is the order they were applied in.
    """

    def __init__(self, data_file: Path, segment: int) -> None:
        self.data_file = data_file
        self._pending = threading.local()
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.written = 0  # records appended so far
        self.synced = 0  # records known to be on disk
        self.segment = segment
        self._fd = self._open(segment)

    @property
    def path(self) -> Path:
        """The active segment."""
        return segment_path(self.data_file, self.segment)

    def _open(self, segment: int) -> int:
        path = segment_path(self.data_file, segment)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_directory(path.parent)
        self.size = os.fstat(fd).st_size
        return fd

    def record(self, op: Document) -> None:
        ops = getattr(self._pending, "ops", None)
        if ops is None:
            ops = self._pending.ops = []
        last = ops[-1] if ops else None
        if last is not None and op["op"] == last["op"] == "put" and op["ns"] == last["ns"]:
            last["docs"] += op["docs"]  # one BSON document for a batch: 4x faster to encode
        else:
            ops.append(op)

    def commit(self) -> int:
        """Append this thread's recorded operations as one record; its number (0: none)."""
        ops = getattr(self._pending, "ops", None)
        if not ops:
            return 0
        self._pending.ops = []
        payload = b"".join(bson.encode(op, codec_options=CODEC) for op in ops)
        frame = memoryview(FRAME.pack(len(payload), zlib.crc32(payload)) + payload)
        with self._write_lock:
            while frame:
                frame = frame[os.write(self._fd, frame) :]
            self.written += 1
            self.size += FRAME.size + len(payload)
            return self.written

    def sync(self, upto: int | None = None) -> None:
        """fsync until record `upto` (all written ones by default) is on disk.

        Concurrent callers share one fsync: that is the group commit.
        """
        with self._sync_lock:
            target = self.written
            if self.synced >= (target if upto is None else upto):
                return
            os.fsync(self._fd)
            self.synced = target

    def rotate(self) -> int:
        """Sync and close the active segment, start the next; returns the new number.

        Callers make sure no command is writing (see MongoServer.checkpoint).
        """
        with self._write_lock, self._sync_lock:
            os.fsync(self._fd)
            self.synced = self.written
            os.close(self._fd)
            self.segment += 1
            self._fd = self._open(self.segment)
            return self.segment

    def close(self) -> None:
        with self._write_lock, self._sync_lock:
            os.fsync(self._fd)
            self.synced = self.written
            os.close(self._fd)

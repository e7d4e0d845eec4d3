"""Where generated files (reports' PDF, HTML, CSV) are kept: MongoDB GridFS, behind a small
interface a store such as S3 could implement the same way."""

from __future__ import annotations

from typing import Any, Protocol

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import NoFile
from gridfs.asynchronous import AsyncGridFSBucket
from pymongo.asynchronous.database import AsyncDatabase

BUCKET = "files"


class FileStore(Protocol):
    async def put(self, name: str, data: bytes, metadata: dict[str, Any]) -> str: ...

    async def get(self, file_id: str) -> bytes | None: ...


class GridFSStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def put(self, name: str, data: bytes, metadata: dict[str, Any]) -> str:
        return str(await self.bucket.upload_from_stream(name, data, metadata=metadata))

    async def get(self, file_id: str) -> bytes | None:
        try:
            stream = await self.bucket.open_download_stream(ObjectId(file_id))
        except (NoFile, InvalidId):
            return None
        return bytes(await stream.read())

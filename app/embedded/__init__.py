"""An embedded MongoDB-compatible server for development and tests (never production).

It speaks the wire protocol over the mongomock_ng engine, so PyMongo and Beanie connect to
it unmodified: `python -m app.embedded --port 27017`, or in-process:

    server = EmbeddedMongo(port=0)
    url = server.start()
    ...
    server.stop()
"""

from app.embedded.server import EmbeddedMongo, MongoServer

__all__ = ["EmbeddedMongo", "MongoServer"]

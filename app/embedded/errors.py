"""MongoDB-shaped errors: every failure becomes `{ok: 0, errmsg, code, codeName}`."""

from __future__ import annotations

import logging
import re
from typing import Any

from bson.errors import BSONError
from pymongo.errors import OperationFailure

log = logging.getLogger("app.embedded")

CODE_NAMES = {
    1: "InternalError",
    2: "BadValue",
    9: "FailedToParse",
    13: "Unauthorized",
    14: "TypeMismatch",
    18: "AuthenticationFailed",
    20: "IllegalOperation",
    26: "NamespaceNotFound",
    27: "IndexNotFound",
    43: "CursorNotFound",
    48: "NamespaceExists",
    59: "CommandNotFound",
    66: "ImmutableField",
    67: "CannotCreateIndex",
    72: "InvalidOptions",
    73: "InvalidNamespace",
    76: "NoReplicationEnabled",
    85: "IndexOptionsConflict",
    86: "IndexKeySpecsConflict",
    115: "CommandNotSupported",
    238: "NotImplemented",
    11000: "DuplicateKey",
}


class CommandError(Exception):
    """A command failure with MongoDB's error code; `extra` lands in the reply (keyValue...)."""

    def __init__(self, code: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra

    def reply(self) -> dict[str, Any]:
        code_name = CODE_NAMES.get(self.code, f"Location{self.code}")
        return {"ok": 0.0, "errmsg": self.errmsg, "code": self.code, "codeName": code_name} | (
            self.extra
        )

    def write_error(self, index: int) -> dict[str, Any]:
        """The entry of a write command's `writeErrors` array."""
        return {"index": index, "code": self.code, "errmsg": self.errmsg} | self.extra


def not_supported(what: str) -> CommandError:
    return CommandError(238, f"{what} is not supported by the embedded development server")


def as_command_error(exc: BaseException) -> CommandError:
    """Map an engine (mongomock_ng) or codec exception to the reply MongoDB would send.

    Only errors shaped as MongoDB's (ours, and the OperationFailures mongomock_ng raises in
    MongoDB's words) reach the client as they are; any other exception is an engine's
    failure, whose text means nothing to a MongoDB client: it is logged here and answered
    with a generic message.
    """
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, OperationFailure):  # mongomock_ng raises pymongo's own classes
        details = exc.details or {}
        extra = {k: details[k] for k in ("keyPattern", "keyValue") if k in details}
        return CommandError(exc.code or 2, str(exc), **extra)
    if isinstance(exc, NotImplementedError):
        log.info("not implemented by the engine: %s", exc)
        operator = _OPERATOR.search(str(exc))
        return not_supported(operator[0] if operator else "an operator or option of this command")
    log.warning("the engine failed on a command", exc_info=exc)
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, BSONError)):
        return CommandError(2, "the embedded server could not evaluate this command's values")
    return CommandError(1, "internal error in the embedded server (see its log)")


_OPERATOR = re.compile(r"\$[A-Za-z]+")

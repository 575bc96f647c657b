"""Errors of the SS 12000 client (messages without personal data, page tokens or filters)."""

from __future__ import annotations


class SS12000Error(RuntimeError):
    """A request to the SS 12000 API failed for good (message without personal data)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class SS12000AuthError(SS12000Error):
    pass

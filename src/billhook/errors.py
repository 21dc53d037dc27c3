"""One exception tree for the package.

Every error carries a stable snake_case ``code``; the HTTP edge maps codes to status codes in
one small table (``billhook.api.problems``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class BillhookError(Exception):
    """Base of every error billhook raises on purpose."""

    detail: str
    errors: Sequence[FieldError] = field(default_factory=tuple)
    code: str = "error"

    def __str__(self) -> str:
        return self.detail


@dataclass
class InvalidInput(BillhookError):
    """The request names a value that cannot be accepted (400)."""

    code: str = "invalid_input"

    @classmethod
    def on(cls, field_name: str, message: str) -> InvalidInput:
        return cls(detail=f"{field_name}: {message}", errors=(FieldError(field_name, message),))


@dataclass
class NotFound(BillhookError):
    code: str = "not_found"


@dataclass
class Conflict(BillhookError):
    """The current state does not allow the call (409)."""

    code: str = "conflict"


@dataclass
class Unauthorized(BillhookError):
    code: str = "unauthorized"

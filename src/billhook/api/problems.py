"""Errors as RFC 9457 problem+json; the one table from error codes to HTTP status."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from billhook.errors import BillhookError, Conflict, InvalidInput, NotFound, Unauthorized

log = structlog.get_logger("billhook.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://billhook.dev/problems/"

STATUS = {InvalidInput: 400, NotFound: 404, Conflict: 409, Unauthorized: 401}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str = "",
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_PRICE_TAGS = {"flat", "unit", "tiered", "package"}


def _loc(loc: tuple[Any, ...]) -> str:
    """A validation error's location as a field path: ``items[0].price.amount``."""
    out, prev = "", None
    for i, p in enumerate(loc):
        skip = (i == 0 and p in ("body", "query", "path", "header")) or (
            isinstance(p, str) and (p.startswith("function-") or (prev == "price" and p in _PRICE_TAGS))
        )
        if not skip:
            out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
        prev = p
    return out or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(BillhookError)
    async def _domain(request: Request, exc: BillhookError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        errors = [{"field": e.field, "message": e.message} for e in exc.errors] or None
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(status, exc.code, exc.detail, errors, headers, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": "body" if e.get("type") == "json_invalid" else _loc(tuple(e.get("loc", ()))),
                "message": str(e.get("msg", "invalid")),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(400, "invalid_input", detail or "invalid request", errors, instance=request.url.path)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None), instance=request.url.path
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("api.integrity_error", error=str(exc.orig))
        return problem(
            409, "conflict", "the request conflicts with a concurrent change; try again", instance=request.url.path
        )

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("api.database_unavailable", error=str(exc.orig))
        return problem(
            503, "database_unavailable", "the database is busy or unreachable; try again", headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unexpected_error")
        return problem(500, "internal", "an unexpected error occurred; it has been logged")


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    from billhook.api.models import Problem

    return {
        c: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": TITLES.get(c, "Error")}
        for c in (400, 401, *codes)
    }

"""Sending one webhook request, and the retry schedule. Never called inside a database transaction."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

TIMEOUT_SECONDS = 15.0
EXCERPT = 1024
# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h, 24 h (about 3 days).
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 72000, 86400))
MAX_RETRY_AFTER = timedelta(hours=24)


class UnsafeURL(ValueError):
    pass


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """http(s) only; private, loopback and link-local targets only when allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("must be an http or https URL with a host")
    if allow_private:
        return
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise UnsafeURL(f"{host} is a loopback address; the server does not allow those") from None  # RFC 6761
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            raise UnsafeURL(f"host {host!r} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for addr in addresses:
        if not addr.is_global:
            raise UnsafeURL(f"{host} is a private or loopback address; the server does not allow those")


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    retry_after: timedelta | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    try:
        delay = timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            delay = parsedate_to_datetime(value).astimezone(UTC) - now
        except (TypeError, ValueError):
            return None
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def send(client: httpx.Client, url: str, body: str, headers: dict[str, str], *, allow_private: bool) -> Outcome:
    started = time.monotonic()
    try:
        check_url(url, allow_private=allow_private)
        response = client.post(url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS)
    except UnsafeURL as exc:
        return Outcome(None, 0, None, f"refused: {exc}", None)
    except httpx.TimeoutException:
        return Outcome(None, _ms(started), None, f"timeout after {TIMEOUT_SECONDS:.0f} s", None)
    except httpx.HTTPError as exc:
        return Outcome(None, _ms(started), None, f"{type(exc).__name__}: {exc}"[:EXCERPT], None)
    return Outcome(
        response.status_code,
        _ms(started),
        response.text[:EXCERPT],
        None,
        _retry_after(response.headers.get("retry-after"), datetime.now(UTC)),
    )


def next_delay(attempts: int, retry_after: timedelta | None) -> timedelta | None:
    """When to try again after ``attempts`` failed attempts; None once the schedule is exhausted."""
    if attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts - 1]
    return max(delay, retry_after) if retry_after is not None else delay


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

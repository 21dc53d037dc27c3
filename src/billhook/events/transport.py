"""Sending webhook requests, and the retry schedule. Never called inside a database transaction."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

TIMEOUT_SECONDS = 15.0
USER_AGENT = "billhook-webhooks"
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


_READ_LIMIT = 64 * 1024  # of a response body: enough for the excerpt; the connection is dropped past it


class Sender:
    """Sends webhook requests, many at once, from one thread running an asyncio loop (aiohttp).

    Up to ``concurrency`` requests are in flight together, over keep-alive connections. One event
    loop instead of a thread per request in flight, and aiohttp's HTTP parser written in C: a
    delivery costs the worker about a fifth of the CPU it did with a pool of threads each sending
    with httpx, CPU that closing periods and releasing invoices need. The loop's thread starts at
    the first send, so a worker that never sends has none."""

    def __init__(self, concurrency: int, *, allow_private: bool) -> None:
        self.concurrency = concurrency
        self.allow_private = allow_private
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

    def send_all(self, requests: Sequence[tuple[str, str, dict[str, str]]]) -> list[Outcome]:
        """POST each ``(url, body, headers)``, never following a redirect; their outcomes, in order."""
        if not requests:
            return []
        loop = self._start()
        return asyncio.run_coroutine_threadsafe(self._send_all(requests), loop).result()

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close_session(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="billhook-webhooks", daemon=True)
                self._thread.start()
                asyncio.run_coroutine_threadsafe(self._open_session(), loop).result()
                self._loop = loop
            return self._loop

    async def _open_session(self) -> None:
        # The semaphore, not the connector, keeps to ``concurrency``: a request's timeout then starts
        # when it is sent, not while it waits for a connection behind endpoints that are slow to answer.
        self._slots = asyncio.Semaphore(self.concurrency)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            headers={"user-agent": USER_AGENT},
        )

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_all(self, requests: Sequence[tuple[str, str, dict[str, str]]]) -> list[Outcome]:
        sent = await asyncio.gather(*(self._send(*r) for r in requests), return_exceptions=True)
        # what no except clause of ``_send`` foresaw fails that request alone, not its batch
        return [
            o if isinstance(o, Outcome) else Outcome(None, 0, None, f"{type(o).__name__}: {o}"[:EXCERPT], None)
            for o in sent
        ]

    async def _send(self, url: str, body: str, headers: dict[str, str]) -> Outcome:
        assert self._session is not None and self._slots is not None
        async with self._slots:
            return await self._post(self._session, url, body, headers)

    async def _post(self, session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]) -> Outcome:
        started = time.monotonic()
        try:
            if self.allow_private:
                check_url(url, allow_private=True)
            else:  # it may look the host up: not on the loop's thread
                await asyncio.to_thread(check_url, url, allow_private=False)
            async with session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as response:
                excerpt = await _excerpt(response)
                status, retry_after = response.status, response.headers.get("retry-after")
        except UnsafeURL as exc:
            return Outcome(None, 0, None, f"refused: {exc}", None)
        except TimeoutError:
            return Outcome(None, _ms(started), None, f"timeout after {TIMEOUT_SECONDS:.0f} s", None)
        except aiohttp.ClientConnectorError as exc:  # refused, unreachable, a name that does not resolve
            cause = exc.os_error
            reason = os.strerror(cause.errno) if cause.errno and cause.errno > 0 else (cause.strerror or str(cause))
            return Outcome(None, _ms(started), None, f"cannot connect to {exc.host}:{exc.port}: {reason}", None)
        except (aiohttp.ClientError, ValueError) as exc:
            return Outcome(None, _ms(started), None, f"{type(exc).__name__}: {exc}"[:EXCERPT], None)
        return Outcome(status, _ms(started), excerpt, None, _retry_after(retry_after, datetime.now(UTC)))


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the response's body as text (at most ``EXCERPT`` characters)."""
    data = b""
    while len(data) < _READ_LIMIT:
        chunk = await response.content.read(_READ_LIMIT - len(data))
        if not chunk:
            break
        data += chunk
    try:
        return data.decode(response.charset or "utf-8", errors="replace")[:EXCERPT]
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")[:EXCERPT]


def next_delay(attempts: int, retry_after: timedelta | None) -> timedelta | None:
    """When to try again after ``attempts`` failed attempts; None once the schedule is exhausted."""
    if attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts - 1]
    return max(delay, retry_after) if retry_after is not None else delay


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

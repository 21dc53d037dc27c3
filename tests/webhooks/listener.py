"""A real HTTP listener for webhook tests: records every request and answers as it is told.

Each endpoint a test registers gets its own path on the listener (``listener.url("a")``), so a
request is matched to its endpoint (and secret) by path. ``down()`` closes the port (connection
refused) and ``up()`` opens it again on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billhook.receiver import InvalidWebhook, verify
from tests.e2e.support import free_port


@dataclass(frozen=True)
class Received:
    path: str  # without the leading slash: the endpoint's name
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many senders at once: the default backlog (5) would drop connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that hung up (a killed worker) is part of the tests, not an error


class Listener:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.port = free_port()
        self.delay = delay
        self.reply = Reply()
        self.requests: list[Received] = []
        self.secrets: dict[str, list[str]] = {}  # endpoint name → every secret it had (``check_all``)
        self._lock = threading.Lock()
        self._started: list[float] = []  # monotonic arrival times of the requests being handled now
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    # ------------------------------------------------------------------------- control

    def url(self, name: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def answer(self, status: int, *, headers: dict[str, str] | None = None, body: str | None = None) -> None:
        self.reply = Reply(status, headers or {}, body if body is not None else f"answered {status}")

    def up(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Close the port: connections are refused until ``up()``."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = None

    def close(self) -> None:
        self.down()

    # ------------------------------------------------------------------------- reading

    def received(self, name: str | None = None, type_: str | None = None) -> list[Received]:
        with self._lock:
            got = list(self.requests)
        return [r for r in got if (name is None or r.path == name) and (type_ is None or r.event["type"] == type_)]

    def check_all(self) -> None:
        """Every request received verifies with a secret of its endpoint, by both verifiers alike."""
        for request in self.received():
            secrets = self.secrets.get(request.path)
            assert secrets, f"a request for an endpoint the test did not register: /{request.path}"
            accepted = [s for s in secrets if _accepts(s, request)]
            assert accepted, f"no secret of /{request.path} verifies request {request.webhook_id}"
            verified(accepted[0], request)

    def just_arrived(self, within: float) -> bool:
        """Whether a request arrived less than ``within`` seconds ago and is still waiting for its answer."""
        with self._lock:
            return any(time.monotonic() - t < within for t in self._started)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body are two writes: don't hold the second back

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender hung up mid-request (a killed worker): nothing was delivered
                arrived = time.monotonic()
                with listener._lock:
                    listener._started.append(arrived)
                if listener.delay:
                    time.sleep(listener.delay)
                reply = listener.reply
                with listener._lock:
                    listener._started.remove(arrived)
                    listener.requests.append(
                        Received(
                            self.path.lstrip("/"),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            reply.status,
                        )
                    )
                raw = reply.body.encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        return Handler


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The event, verified twice: by the standardwebhooks package and by billhook.receiver; both must agree."""
    by_package = Webhook(secret).verify(request.body, request.headers)
    by_receiver = verify(secret, request.headers, request.body)
    assert by_package == by_receiver == request.event
    return by_receiver


def _accepts(secret: str, request: Received) -> bool:
    """Whether ``secret`` verifies ``request``; the package and billhook.receiver must agree."""
    try:
        Webhook(secret).verify(request.body, request.headers)
        by_package = True
    except WebhookVerificationError:
        by_package = False
    try:
        verify(secret, request.headers, request.body)
        by_receiver = True
    except InvalidWebhook:
        by_receiver = False
    assert by_package == by_receiver, (secret, request)
    return by_package

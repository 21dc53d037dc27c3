"""The webhook sender against real HTTP servers on loopback: what it sends, what it makes of each
kind of answer (or of none), and that it sends a batch's requests at once."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from billhook.events import transport
from billhook.events.transport import Sender
from tests.e2e.support import free_port

Answer = tuple[int, dict[str, str], bytes]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # not a client that gave up (the timeout tests)
            super().handle_error(request, client_address)


@contextmanager
def server(answer: Callable[[BaseHTTPRequestHandler, bytes], Answer]) -> Iterator[tuple[str, list[Any]]]:
    """An HTTP server on a free loopback port; yields its base URL and the requests it received
    (path, lower-cased headers, body), answering each with ``answer(handler, body)``."""
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, raw = answer(self, body)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    httpd = _Server(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def send_through(
    concurrency: int, answer: Callable[[BaseHTTPRequestHandler, bytes], Answer], paths: list[str]
) -> list[Any]:
    """A sender of its own, ``concurrency`` at a time, posting ``{}`` to each path of a server that
    answers with ``answer``; the outcomes."""
    s = Sender(concurrency, allow_private=True)
    try:
        with server(answer) as (base, _):
            return s.send_all([(f"{base}/{p}", "{}", {}) for p in paths])
    finally:
        s.close()


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(8, allow_private=True)
    yield s
    s.close()


def test_a_request_arrives_as_sent_and_its_answer_is_recorded(sender: Sender) -> None:
    with server(lambda h, body: (200, {"content-type": "text/plain; charset=utf-8"}, b"thanks \xc3\xa9")) as (
        base,
        got,
    ):
        body = '{"type":"invoice.paid","amount":"12.50"}'
        headers = {"webhook-id": "msg_1", "content-type": "application/json"}
        [outcome] = sender.send_all([(f"{base}/hook", body, headers)])
    assert outcome.succeeded and outcome.status_code == 200 and outcome.error is None
    assert outcome.excerpt == "thanks é"
    [(path, headers, raw)] = got
    assert path == "/hook" and raw == body.encode()
    assert headers["webhook-id"] == "msg_1" and headers["content-type"] == "application/json"
    assert headers["user-agent"] == transport.USER_AGENT


def test_outcomes_come_back_in_the_order_of_the_requests(sender: Sender) -> None:
    statuses = {"/a": 200, "/b": 500, "/c": 204, "/d": 404}
    with server(lambda h, body: (statuses[h.path], {}, b"")) as (base, got):
        outcomes = sender.send_all([(f"{base}{p}", "{}", {}) for p in statuses])
    assert [o.status_code for o in outcomes] == list(statuses.values())
    assert [o.succeeded for o in outcomes] == [True, False, True, False]
    assert sorted(p for p, _, _ in got) == sorted(statuses)


def test_a_redirect_is_not_followed(sender: Sender) -> None:
    with server(lambda h, body: (302, {"location": "/elsewhere"}, b"moved")) as (base, got):
        [outcome] = sender.send_all([(f"{base}/hook", "{}", {})])
    assert outcome.status_code == 302 and not outcome.succeeded
    assert [p for p, _, _ in got] == ["/hook"]


def test_retry_after_gone_and_a_long_answer(sender: Sender) -> None:
    answers = {
        "/busy": (503, {"retry-after": "120"}, b"later"),
        "/gone": (410, {}, b"gone"),
        "/long": (500, {}, b"x" * 5000),
    }
    with server(lambda h, body: answers[h.path]) as (base, _):
        busy, gone, long = sender.send_all([(f"{base}{p}", "{}", {}) for p in answers])
    assert busy.retry_after == timedelta(seconds=120) and not busy.succeeded
    assert gone.gone and gone.status_code == 410
    assert long.excerpt == "x" * transport.EXCERPT


def test_a_closed_port_is_an_error_not_an_exception(sender: Sender) -> None:
    [outcome] = sender.send_all([(f"http://127.0.0.1:{free_port()}/hook", "{}", {})])
    assert outcome.status_code is None and not outcome.succeeded
    assert outcome.error is not None and outcome.error.endswith("Connection refused"), outcome.error


def test_an_endpoint_slower_than_the_timeout_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 1.0)
    release = threading.Event()

    def slow(h: BaseHTTPRequestHandler, body: bytes) -> Answer:
        release.wait(10)
        return 200, {}, b"too late"

    try:
        [outcome] = send_through(2, slow, ["hook"])
    finally:
        release.set()
    assert outcome.status_code is None and outcome.error == "timeout after 1 s"
    assert outcome.latency_ms >= 1000


def test_a_private_address_is_refused_unless_allowed() -> None:
    strict = Sender(2, allow_private=False)
    try:
        with server(lambda h, body: (200, {}, b"")) as (base, got):
            [outcome] = strict.send_all([(f"{base}/hook", "{}", {})])
        assert outcome.status_code is None and outcome.error is not None
        assert outcome.error.startswith("refused: 127.0.0.1 is a private or loopback address")
        assert got == []  # nothing was sent
    finally:
        strict.close()


def test_a_batch_is_sent_at_once_up_to_the_concurrency() -> None:
    """Each request waits at a barrier for the other three: answered 200 only if all four are in
    flight together (a sender sending one at a time would break the barrier: 500)."""
    barrier = threading.Barrier(4, timeout=5)

    def together(h: BaseHTTPRequestHandler, body: bytes) -> Answer:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return 500, {}, b"alone"
        return 200, {}, b"together"

    outcomes = send_through(4, together, ["a", "b", "c", "d"])
    assert [o.status_code for o in outcomes] == [200] * 4


def test_a_closed_sender_starts_again_when_asked_to_send(sender: Sender) -> None:
    with server(lambda h, body: (200, {}, b"ok")) as (base, got):
        assert sender.send_all([(f"{base}/one", "{}", {})])[0].succeeded
        sender.close()
        assert sender.send_all([(f"{base}/two", "{}", {})])[0].succeeded
    assert [p for p, _, _ in got] == ["/one", "/two"]
    assert sender.send_all([]) == []


def test_an_endpoint_answering_garbage_fails_alone_not_its_batch(sender: Sender) -> None:
    """One endpoint answers bytes that are not HTTP and hangs up: its request fails with an error, and
    the request sent beside it to a sound endpoint still succeeds."""
    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen()

    def answer_garbage() -> None:
        conn, _ = garbage.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"\x00\x01 not http at all\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        with server(lambda h, body: (200, {}, b"ok")) as (base, _):
            bad, good = sender.send_all(
                [(f"http://127.0.0.1:{garbage.getsockname()[1]}/hook", "{}", {}), (f"{base}/hook", "{}", {})]
            )
    finally:
        thread.join(timeout=10)
        garbage.close()
    assert bad.status_code is None and bad.error and not bad.succeeded
    assert good.succeeded and good.excerpt == "ok"


def test_a_request_waiting_for_its_turn_does_not_time_out_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """One request at a time, each answered after 0.6 s, with a timeout of 1 s: the third waits 1.2 s
    for its turn, and still has its whole second once sent."""
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 1.0)

    def slow(h: BaseHTTPRequestHandler, body: bytes) -> Answer:
        time.sleep(0.6)
        return 200, {}, b"ok"

    outcomes = send_through(1, slow, ["a", "b", "c"])
    assert [(o.status_code, o.error) for o in outcomes] == [(200, None)] * 3

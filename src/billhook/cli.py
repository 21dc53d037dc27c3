"""The command line: serve, worker, migrate, apikey, clock."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import apikeys, test_clock
from billhook.services.common import iso

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout carries only keys and times

# Logs go to stderr: stdout carries only what scripts read (a new API key, the clock's time).
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))

app = typer.Typer(help="billhook: invoicing engine with hooks before money moves.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
clock_app = typer.Typer(help="The test clock (when enabled).", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(clock_app, name="clock")
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="BILLHOOK_DATABASE_URL", help="SQLAlchemy URL")]


def _settings(database_url: str | None = None, **changes: Any) -> Settings:
    s = Settings.from_env()
    if database_url:
        s = s.with_(database_url=database_url)
    return s.with_(**{k: v for k, v in changes.items() if v is not None})


def _when(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command()
def migrate(database_url: DbOpt = None) -> None:
    """Apply database migrations."""
    settings = _settings(database_url)
    with err.status(f"migrating {_safe(settings.database_url)}"):
        Runtime.start(settings).close()
    err.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    database_url: DbOpt = None,
    test_clock_on: Annotated[bool, typer.Option("--test-clock", help="enable the test clock")] = False,
    test_clock_start: Annotated[str | None, typer.Option(help="initial test clock time (RFC 3339)")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run the worker in this process")] = True,
) -> None:
    """Run the API, the worker and the docs in one process (migrations applied first)."""
    import uvicorn

    from billhook.api.app import create_app

    settings = _settings(
        database_url,
        test_clock=True if test_clock_on else None,
        test_clock_start=_when(test_clock_start),
    )
    with err.status("applying migrations"):
        rt = Runtime.start(settings)
    with rt.uows.write() as uow:
        if apikeys.count(uow) == 0:
            key = apikeys.create(uow, "default", name="first key")
            uow.commit()
            err.print("[bold]Created the first API key (shown once, keep it):[/bold]")
            print(key, flush=True)
    stop = threading.Event()
    thread = None
    background = rt.worker()
    if worker:
        thread = threading.Thread(target=background.run, args=(stop,), name="billhook-worker", daemon=True)
        thread.start()
    err.print(
        f"billhook serving on http://{host}:{port}  (docs: /docs, database: {_safe(settings.database_url)}"
        f"{', test clock on' if settings.test_clock else ''})"
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler in place
    # before it ran: make that handler stop the worker, so the process gets to the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        uvicorn.run(create_app(rt), host=host, port=port, log_level="warning")
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        background.close()
        rt.close()


@app.command("worker")
def worker_cmd(database_url: DbOpt = None) -> None:
    """Run the worker alone (as many as you like, on PostgreSQL)."""
    rt = Runtime.start(_settings(database_url))
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    w = rt.worker()
    err.print(f"worker {w.name} running on {_safe(rt.settings.database_url)}")
    w.run(stop)
    w.close()
    rt.close()


@apikey_app.command("create")
def apikey_create(
    namespace: str = "default", name: Annotated[str | None, typer.Option()] = None, database_url: DbOpt = None
) -> None:
    """Create an API key; prints the key, and nothing else, on stdout."""
    from billhook.errors import BillhookError

    rt = Runtime.start(_settings(database_url))
    try:
        with rt.uows.write(namespace) as uow:
            key = apikeys.create(uow, namespace, name)
            uow.commit()
    except BillhookError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        sys.exit(2)
    finally:
        rt.close()
    print(key)


NamespaceOpt = Annotated[str, typer.Option("--namespace", help="whose test clock (one per namespace)")]


@clock_app.command("show")
def clock_show(namespace: NamespaceOpt = "default", database_url: DbOpt = None) -> None:
    """Print a namespace's test clock: its time on stdout; the namespace and any walk in progress on stderr."""
    rt = Runtime.start(_settings(database_url, test_clock=True))
    try:
        with rt.uows(readonly=True, namespace=namespace) as uow:
            state = test_clock.show(uow)
    finally:
        rt.close()
    walking = f", walking to {state['advancingTo']}" if state["advancingTo"] else ""
    err.print(f"test clock of namespace {namespace}{walking}")
    print(state["now"])


@clock_app.command("advance")
def clock_advance(
    by: Annotated[str | None, typer.Option(help="ISO 8601 duration, e.g. P1M")] = None,
    to: Annotated[str | None, typer.Option(help="RFC 3339 time")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="walk it here, processing what falls due")] = True,
    namespace: NamespaceOpt = "default",
    database_url: DbOpt = None,
) -> None:
    """Walk a namespace's test clock forward through every instant something falls due, processing each
    (unless --no-wait: then the workers of `billhook serve` / `billhook worker` walk it)."""
    from billhook.errors import BillhookError

    rt = Runtime.start(_settings(database_url, test_clock=True))
    try:
        with rt.uows.write(namespace) as uow:
            start = datetime.fromisoformat(test_clock.show(uow)["now"])
            state = test_clock.advance(uow, to=_when(to), by=by)
            uow.commit()
        target = datetime.fromisoformat(state["advancingTo"] or state["now"])
        err.print(f"test clock of namespace {namespace}: {iso(start)} -> {iso(target)}")
        if wait:
            state = _walk(rt, namespace, start, target)
        print(state["now"])
    except BillhookError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        sys.exit(2)
    finally:
        rt.close()


def _walk(rt: Runtime, namespace: str, start: datetime, target: datetime) -> dict[str, Any]:
    """Walk the clock here, with a progress bar over the span walked; the clock's state at the end."""
    span = max((target - start).total_seconds(), 1.0)
    w = rt.worker()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as p:
            task = p.add_task(f"{namespace} at {iso(start)}", total=span)

            def progress(step: test_clock.Step) -> None:
                walked = (step.now - start).total_seconds()
                p.update(task, completed=walked, description=f"{namespace} at {iso(step.now)}")

            if not w.walk(namespace, progress=progress):
                err.print("[red]the walk stalled: due work stopped being processed[/red]")
                sys.exit(1)
            p.update(task, completed=span)
    finally:
        w.close()
    with rt.uows(readonly=True, namespace=namespace) as uow:
        return test_clock.show(uow)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

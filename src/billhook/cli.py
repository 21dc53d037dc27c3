"""The command line: serve, worker, migrate, apikey, clock."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import apikeys, test_clock

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
        with rt.uows.write() as uow:
            key = apikeys.create(uow, namespace, name)
            uow.commit()
    except BillhookError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        sys.exit(2)
    finally:
        rt.close()
    print(key)


@clock_app.command("show")
def clock_show(database_url: DbOpt = None) -> None:
    """Print the test clock's time."""
    rt = Runtime.start(_settings(database_url, test_clock=True))
    with rt.uows(readonly=True) as uow:
        print(test_clock.show(uow)["now"])
    rt.close()


@clock_app.command("advance")
def clock_advance(
    by: Annotated[str | None, typer.Option(help="ISO 8601 duration, e.g. P1M")] = None,
    to: Annotated[str | None, typer.Option(help="RFC 3339 time")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="process what falls due")] = True,
    database_url: DbOpt = None,
) -> None:
    """Move the test clock forward and (by default) process everything that falls due."""
    rt = Runtime.start(_settings(database_url, test_clock=True))
    try:
        with rt.uows.write() as uow:
            state = test_clock.advance(uow, to=_when(to), by=by)
            uow.commit()
        if wait:
            w = rt.worker()
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as p:
                task = p.add_task("processing due work", total=None)
                handled = 0
                while True:
                    n = w.run_once()
                    handled += n
                    p.update(task, description=f"processing due work: {handled} done")
                    if n:
                        continue
                    with rt.uows(readonly=True) as uow:
                        if w.pending(uow) == 0:
                            break
                    time.sleep(0.1)
        print(state["now"])
    except Exception as exc:
        from billhook.errors import BillhookError

        if isinstance(exc, BillhookError):
            err.print(f"[red]{exc.detail}[/red]")
            sys.exit(2)
        raise
    finally:
        rt.close()


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

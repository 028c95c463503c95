"""`hub delivery ...`: destinations, refused messages, and sending refused messages again."""

from __future__ import annotations

from typing import Annotated

import typer

from consumers.delivery import queue
from consumers.delivery.queries import refused as refused_messages
from consumers.delivery.status import delivery_status
from hub.core.errors import PermanentError
from hub.core.parts import PartContext


class DeliveryCommandError(PermanentError, ValueError):
    """A `hub delivery` command given what it cannot do (one line, exit code 2)."""


app = typer.Typer(help="Delivery of results to members: destinations, refusals, resending.", no_args_is_help=True)


@app.command("list")
def destinations(ctx: typer.Context) -> None:
    """Every destination: queued, sent, acknowledged, refused, failing since, last error."""
    context: PartContext = ctx.obj()
    section = delivery_status(context.settings, context.database)
    typer.echo("  ".join(section.columns))
    for i, row in enumerate(section.rows):
        typer.echo("  ".join("-" if v is None else str(v) for v in row) + ("  !" if i in section.flagged else ""))
    for note in section.notes:
        typer.echo(note)


@app.command("refused")
def refused(
    ctx: typer.Context,
    destination: Annotated[str | None, typer.Option(help="Only this destination, e.g. th01/mllp.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """Messages members refused (AE/AR, HTTP 4xx), with their reasons."""
    context: PartContext = ctx.obj()
    with context.database.reading() as session:
        rows = refused_messages(session, destination, limit)
    for row in rows:
        typer.echo(f"{row.id}  {row.done_at:%Y-%m-%d %H:%M:%S}  {row.destination:<16} {row.message_id}  "
                   f"{row.resource}  {(row.last_error or '')[:120]}")
    typer.echo(f"{len(rows)} refused messages")


@app.command("retry")
def retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Message numbers from `hub delivery refused`.")] = None,
    destination: Annotated[str | None, typer.Option(help="Every refused message of this destination.")] = None,
) -> None:
    """Send refused messages again, once the member fixed what made it refuse them."""
    if not ids and not destination:
        raise DeliveryCommandError("name message numbers (from `hub delivery refused`), or --destination")
    context: PartContext = ctx.obj()
    count = queue.requeue(context.database, ids or [], destination)
    typer.echo(f"{count} messages queued again")

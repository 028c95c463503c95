"""`hub mpi ...`: the record store's command-line verbs."""

from __future__ import annotations

from typing import Annotated

import typer

from consumers.record_store.links import stale_links
from consumers.record_store.matching.rules import load_rules
from consumers.record_store.rematch import rematch_all
from hub.core.parts import PartContext
from hub.core.progress import ProgressBar, wanted

app = typer.Typer(help="The master patient index: evaluate the matcher, re-match links.", no_args_is_help=True)


@app.command("rematch")
def rematch(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr (it is off anyway when stderr "
                                        "is not a terminal).")] = False,
) -> None:
    """Re-match now every automatic link made under other matching rules (the hub also does this
    in the background)."""
    context: PartContext = ctx.obj()
    rules = load_rules(context.settings.match_rules)
    with context.database.sessions() as session:
        waiting = stale_links(session, rules.version)
    with ProgressBar("re-matching links", waiting, wanted(context.settings.progress, quiet), unit="links") as bar:
        done = rematch_all(context.database, rules, on_progress=bar.advance)
    typer.echo(f"re-matched {done} links under rules {rules.version}")

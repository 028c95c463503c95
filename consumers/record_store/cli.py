"""`hub mpi ...`: the record store's command-line verbs."""

from __future__ import annotations

import typer

from consumers.record_store.matching.rules import load_rules
from consumers.record_store.rematch import rematch_all
from hub.core.parts import PartContext

app = typer.Typer(help="The master patient index: evaluate the matcher, re-match links.", no_args_is_help=True)


@app.command("rematch")
def rematch(ctx: typer.Context) -> None:
    """Re-match now every automatic link made under other matching rules (the hub also does this
    in the background)."""
    context: PartContext = ctx.obj()
    rules = load_rules(context.settings.match_rules)
    done = rematch_all(context.database, rules)
    typer.echo(f"re-matched {done} links under rules {rules.version}")

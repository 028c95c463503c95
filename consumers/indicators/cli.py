"""`hub indicators ...`: import the insurance settlements the county indicators need, print the figures."""

from __future__ import annotations

from pathlib import Path

import typer

from consumers.indicators import insurance
from consumers.indicators.definitions import BY_KEY
from consumers.indicators.queries import compute
from hub.core.parts import PartContext

app = typer.Typer(help="County monitoring indicators: import insurance settlement data, show a month's figures.",
                  no_args_is_help=True)


@app.command("import-insurance")
def import_insurance(ctx: typer.Context, file: Path = typer.Argument(..., help="the settlement CSV file"),
                     month: str = typer.Option(..., help="the month the file covers, YYYY-MM")) -> None:
    """Imports one month of residents' visits settled outside the county (columns: settlement_id, settled_on,
    visit_type, hospital; optional region, insured_id, diagnosis). A file with a bad row is refused whole and
    every bad row is printed; importing a month again replaces it."""
    try:
        insurance.check_month(month)
        data = file.read_bytes()
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    context: PartContext = ctx.obj()
    try:
        with context.database.transaction() as session:
            count = insurance.import_file(session, data, month, file.name, "cli")
    except insurance.InsuranceFileError as error:
        typer.echo(f"error: {file} was not imported ({len(error.errors)} problem(s)); fix these rows and import "
                   "it again:", err=True)
        for problem in error.errors:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"imported {count} settlements of {month} from {file}")


@app.command("show")
def show(ctx: typer.Context, month: str = typer.Option(..., help="the month, YYYY-MM"),
         member: str | None = typer.Option(None, help="one member's facility id (default: the whole county)")) -> None:
    """Prints a month's indicators with their numerators and denominators, or why one has no value."""
    try:
        insurance.check_month(month)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    context: PartContext = ctx.obj()
    with context.database.reading() as session:
        found = compute(session, context.services, month, member)
    for key, counted in found.items():
        figure, definition = counted.figure, BY_KEY[key]
        if figure.value is None:
            typer.echo(f"{definition.name_zh} {definition.name_en}: — ({figure.missing_en})")
            continue
        unit = {"percent": "%", "hours": " h"}.get(definition.unit, "")
        parts = f" ({figure.numerator}/{figure.denominator})" if figure.denominator is not None else ""
        typer.echo(f"{definition.name_zh} {definition.name_en}: {figure.value}{unit}{parts}")

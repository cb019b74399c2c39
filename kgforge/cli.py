"""The ``kgforge`` command line.

Every command is a thin shell over the Python API of its layer. Errors that are the user's
(``KGForgeError``) print as one line and exit with code 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from kgforge.errors import KGForgeError

app = typer.Typer(
    name="kgforge",
    help="Turn text into a knowledge graph, query it with SPARQL, and learn inductive entity "
    "embeddings from entity text.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def run() -> None:
    """Entry point: run the app, turning user errors into one-line messages."""
    try:
        app(standalone_mode=False)
    except KGForgeError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


# ---- graph commands (kgforge.graph): query, load, export, stats ---------------------------


# ---- extraction commands (kgforge.extract): extract, train-relations, evaluate-extraction --


# ---- embedding commands (kgforge.embed): train, evaluate, split ----------------------------


if __name__ == "__main__":
    run()

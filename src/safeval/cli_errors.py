"""How the command line ends on an error: a usage mistake, a bad file or a damaged store is one
clear line and exit 2; a failed run exits 1; Ctrl-C exits 130. Only a bug in safeval itself
shows a traceback (with SAFEVAL_DEBUG=1), and it asks to be reported."""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from typing import TYPE_CHECKING, Any

from safeval.errors import SafevalError

if TYPE_CHECKING:
    from rich.console import Console

Classes = tuple[type[BaseException], ...]


def _click_classes() -> tuple[Classes, Classes, Classes]:
    """(exit, abort, usage error) classes of the click that typer uses: its bundled copy in
    typer >= 0.20, the click package before (both where both are installed)."""
    exits: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = []
    usage: list[type[BaseException]] = []
    try:
        import click

        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
        usage.append(click.exceptions.ClickException)
    except ImportError:
        pass
    try:
        from typer import exceptions as typer_exc

        exits.append(typer_exc.Exit)
        aborts.append(typer_exc.Abort)
    except (ImportError, AttributeError):
        pass
    try:
        from typer._click import exceptions as bundled

        usage.append(bundled.ClickException)
    except (ImportError, AttributeError):
        pass
    return tuple(exits), tuple(aborts), tuple(usage)


def run_main(command: Any, argv: list[str], err: Console) -> None:
    """Run the click `command` with `argv` and exit with the code its outcome calls for."""
    exits, aborts, usage = _click_classes()
    interrupts: Classes = (*aborts, KeyboardInterrupt)
    try:
        rv = command.main(args=argv, prog_name="safeval", standalone_mode=False)
    except exits as e:
        sys.exit(getattr(e, "exit_code", 0))
    except usage as e:
        e.show()  # type: ignore[attr-defined]
        sys.exit(getattr(e, "exit_code", 2))
    except interrupts:
        err.print("interrupted")
        sys.exit(130)
    except SafevalError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except sqlite3.DatabaseError as e:
        print(
            f"error: a database could not be read or written ({e}); if a file is damaged, move "
            "it away (a run's run.sqlite, or the runs folder's cache.sqlite) and run again",
            file=sys.stderr,
        )
        sys.exit(2)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    except RecursionError:
        print("error: input nested too deeply to read", file=sys.stderr)
        sys.exit(2)
    except Exception as e:  # a bug: say so, and how to report it
        if os.environ.get("SAFEVAL_DEBUG"):
            traceback.print_exc()
        print(
            f"error: internal error ({type(e).__name__}: {e}). This is a bug in safeval: please "
            "report it with the command you ran (SAFEVAL_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)

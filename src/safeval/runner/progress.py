"""Progress bars with rate and ETA (rich), and a silent stand-in.

rich is imported only when a bar is shown: a run without bars (`--no-progress`, a script, CI)
sends its first requests some 20 ms sooner."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


def _progress() -> Progress:
    """A rich Progress with the columns of a stage: count, errors, rate, ETA, elapsed."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f} it/s" if speed else "- it/s", style="progress.data.speed")

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]}"),
        RateColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=False,
    )


class Bar:
    """One stage's progress bar; `advance(n)` as items finish. Disabled (or with nothing to
    do), it shows nothing and needs no rich."""

    def __init__(self, description: str, total: int, enabled: bool = True) -> None:
        self.enabled = enabled and total > 0
        self._progress = _progress() if self.enabled else None
        self._task = (
            self._progress.add_task(description, total=total, errors="")
            if self._progress is not None
            else None
        )
        self.errors = 0

    def __enter__(self) -> Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def error(self, n: int = 1) -> None:
        """Count `n` of the finished items as errors, shown apart from the answered ones."""
        self.errors += n
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, errors=f"{self.errors} errors")

"""Live progress of a load test (rich), refreshed from the runner's loop, not a thread."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    """A progress bar: completed/total, in flight, failures, req/s and output tok/s so far."""

    def __init__(self, total: int, *, quiet: bool = False, title: str = "") -> None:
        self.quiet = quiet
        self.total = total
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
            console=Console(stderr=True), auto_refresh=False, transient=False,
        )
        self._task = self._bar.add_task(title or "load test", total=total, stats="")

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if not self.quiet:
            self._bar.refresh()
            self._bar.stop()

    def update(self, plan, elapsed: float) -> None:
        """Called by the runner every tick with the shared plan."""
        if self.quiet:
            return
        done = len(plan.records)
        failed = sum(1 for r in plan.records if not r.success)
        tokens = sum((r.output_tokens or 0) for r in plan.records if r.success)
        rate = done / elapsed if elapsed > 0 else 0.0
        stats = (f"in flight {plan.in_flight}  failed {failed}  {rate:.1f} req/s  "
                 f"{tokens / elapsed if elapsed > 0 else 0:.0f} tok/s")
        self._bar.update(self._task, completed=done, stats=stats)
        self._bar.refresh()

"""What a finished run leaves for people to read, written after ``run()`` returns.

The front-ends (the CLI, the pytest fixture, ``leakbench report``) call
:func:`write_reports` with the summary they already hold, so no report reads
``summary.json`` back, and the run itself never waits on matplotlib.
"""

from __future__ import annotations

from pathlib import Path

from leakbench.attribution.heapsnap.report import write_heap_growth
from leakbench.reporters.holders import write_holders
from leakbench.verdict.results import Summary


def write_reports(run_dir: Path, summary: Summary) -> None:
    """Draw ``memory.png``; a plot that fails is recorded as ``plot_error``, never costs the verdict."""
    # matplotlib here, not at the top: this package's text reporters load in every pytest session
    from leakbench.reporters.plot import draw_memory

    write_heap_growth(Path(run_dir), summary.heap_growth)
    write_holders(Path(run_dir), summary.holders)
    try:
        draw_memory(Path(run_dir), summary)
    except Exception as err:  # matplotlib, a full disk, samples cut by a kill: the verdict stands
        summary.plot_error = str(err) or type(err).__name__
        summary.save(run_dir)
        return
    if summary.plot_error:  # redrawn by ``leakbench report``: the old failure no longer holds
        summary.plot_error = None
        summary.save(run_dir)

"""A results root: the runs under it, written by one pytest session or merged from many.

A sharded CI run gives each shard its own root (``results/head/shard-2``) and
the merge job downloads them side by side, so ``results/head`` holds every
shard's runs one level down. Runs are found at any depth; a run is named by its
directory (the test id) and the directories between the root and it name its
shard. The same test id under two shards of one side is refused: the shards
were not a partition of the tests (another durations file, another
``--splits``), and keeping either run would drop the other without a word.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leakbench.errors import UsageError
from leakbench.verdict.results import SUMMARY


@dataclass(frozen=True)
class RunPlace:
    """Where one run's directory was found."""

    name: str
    path: Path
    shard: str
    """The directories between the root given and the run's (``shard-2``); empty for a plain root."""


def runs_under(roots: Iterable[Path], *, empty_ok: bool = True) -> dict[str, RunPlace]:
    """Run name -> place, over every root; a root that is one run's directory is that run.

    ``empty_ok``: a root with no runs is no error for compare (the base of the
    pull request that adds the first leak tests has none), but is for export.
    """
    found: dict[str, RunPlace] = {}
    for root in map(Path, roots):
        places = _walk(root)
        if not places and not empty_ok:
            raise UsageError(f"{root}: no {SUMMARY} in it or under it; is this a leakbench results directory?")
        for place in places:
            other = found.get(place.name)
            if other is not None:
                raise UsageError(
                    f"run {place.name} is in both {other.path.parent} and {place.path.parent}: a test must run "
                    "in one shard only (give every shard the same durations file and --splits)"
                )
            found[place.name] = place
    return found


def _walk(root: Path) -> list[RunPlace]:
    if (root / SUMMARY).is_file():
        return [RunPlace(root.resolve().name, root, "")]
    if not root.is_dir():
        raise UsageError(f"{root}: no such results directory")
    places = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if SUMMARY in filenames and here != root:
            dirnames.clear()  # a run's directory holds its files, never other runs
            shard = here.parent.relative_to(root).as_posix()
            places.append(RunPlace(here.name, here, "" if shard == "." else shard))
        dirnames.sort()
    return places

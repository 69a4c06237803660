"""What a run shows as it goes: given to ``Run`` by its caller, so the running stage imports no reporter."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    """What shows a run's progress as it goes (``reporters.terminal.RunProgress``): given to the run by its caller."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...

    def update(self, iteration: int) -> None: ...


class NoProgress:
    """No display: pytest's runs, and a library caller that passes none."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, iteration: int) -> None:
        return None

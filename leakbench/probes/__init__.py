"""Probes: how each kind of target is measured. A new probe is one file here and one line below."""

from .base import LaunchPlan, Probe
from .inprocess import InProcessProbe
from .process import ProcessProbe
from .spec import ProbeSpec

PROBES: dict[str, type[Probe]] = {p.spec.kind: p for p in (ProcessProbe, InProcessProbe)}

__all__ = ["PROBES", "InProcessProbe", "LaunchPlan", "Probe", "ProbeSpec", "ProcessProbe"]

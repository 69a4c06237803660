"""Probes: how each kind of target is measured, one file per runtime; ``registry`` picks one for a run."""

"""Run by a Python target at startup, because leakbench put this directory first on its ``PYTHONPATH``.

It starts the probe's thread (``pytarget``) if leakbench passed it a pipe,
then steps aside: this directory leaves ``sys.path`` and ``PYTHONPATH`` (the
user's entries stay, and the target's Python children are not probed), and
the next ``sitecustomize`` on the path (a distribution's, a venv's, the
user's) is imported in its place, as if this one had never been there.
Nothing from leakbench is imported: the target's interpreter may have none.
"""

import os
import sys


def _step_in_and_aside() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    fds = os.environ.pop("LEAKBENCH_PYPROBE_FDS", None)
    capture = os.environ.pop("LEAKBENCH_PYPROBE_MEMRAY", None)
    theirs = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != here]
    if theirs:
        os.environ["PYTHONPATH"] = os.pathsep.join(theirs)
    else:
        os.environ.pop("PYTHONPATH", None)
    sys.path[:] = [p for p in sys.path if not p or os.path.abspath(p) != here]
    if fds:
        try:
            import importlib.util

            path = os.path.join(os.path.dirname(here), "pytarget.py")
            spec = importlib.util.spec_from_file_location("_leakbench_pytarget", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.start(fds, os.path.join(os.path.dirname(here), "pyheap.py"))
            if capture:
                _exit_on_sigterm()  # noqa: F821  defined below, called once the module has run
        except Exception as err:  # never the target's problem: leakbench warns and reads RSS
            sys.stderr.write(f"leakbench: the Python probe did not start in this process: {err!r}\n")
    ours = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401  the next one on the path, if any
    except ImportError as err:
        if err.name != "sitecustomize":
            raise
        sys.modules["sitecustomize"] = ours


def _exit_on_sigterm() -> None:
    """leakbench stops a capturing target with SIGTERM: as ``SystemExit``, the tracker writes its capture on the way out.

    Only where the program left the default (it may install its own later,
    which then decides how it ends); signal handlers are set from the main
    thread, which is why here and not in the probe's thread.
    """
    import signal

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit)


_step_in_and_aside()
del _step_in_and_aside, _exit_on_sigterm

"""The catalogue as a project's own leak tests: every pair's two twins under the pytest plugin.

    pytest examples/leak_tests --leak-results results                     # one job
    python ci/run_shards.py --shards 3 --results results -- examples/leak_tests   # three shards

Each leaky twin's test fails (that is the point: the build breaks), each fixed
twin's passes. ``tests/results/test_shards.py`` (``-m slow``) runs both ways and
checks that the shards give the one job's verdicts.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLES))
from catalogue import PAIRS, Pair  # noqa: E402

JS_DEPS = EXAMPLES / "ralph-js" / "node_modules" / "@opencode-ai" / "sdk"


def keywords(pair: Pair) -> dict[str, str]:
    """``leakbench run`` flags (``--drive opencode``) as ``leak.run`` keywords."""
    flags = pair.options
    return {
        flag.removeprefix("--").replace("-", "_"): value for flag, value in zip(flags[::2], flags[1::2], strict=True)
    }


@pytest.mark.parametrize("twin", ["fixed", "leaky"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.name)
def test_twin(leak, pair: Pair, twin: str):
    if pair.name == "ralph-js" and (shutil.which("node") is None or not JS_DEPS.is_dir()):
        pytest.skip(f"needs {pair.needs}")
    leak.run(pair.scenario, command=pair.leaky if twin == "leaky" else pair.fixed, **keywords(pair))

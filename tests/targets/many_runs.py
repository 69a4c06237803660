"""Many short runs in one harness process, through the runner API: ``python many_runs.py TAG RESULTS N``.

One process for all runs, as a long pytest session or a CI job running many
leak tests would be: whatever one run leaves behind accumulates. Prints one
JSON line: the verdict and rule of every run, by kind.
"""

import json
import sys
import threading
from pathlib import Path

import psutil

from leakbench.api import run
from leakbench.running.config import RunConfig
from leakbench.scenario.spec import load_scenario

HERE = Path(__file__).parent
AGENT = str(HERE / "agent.py")
LOOP = HERE.parent / "scenarios" / "loop.toml"

# kind -> (agent arguments, runner options); every target leaves a setsid daemon behind.
KINDS = {
    "clean": ([], {}),
    "crash": (["--crash-at", "5"], {}),
    "exit-early": (["--exit-at", "5"], {}),
    "guard": (["--runaway-after", "3", "--runaway-step", "20MB"], {"rss_limit": 200_000_000}),
    "guard-ignores-term": (
        ["--runaway-after", "3", "--runaway-step", "20MB", "--ignore-term"],
        {"rss_limit": 200_000_000},
    ),
    "finishes-ignoring-term": (["--ignore-term"], {}),
    "hangs-ignoring-term": (["--hang-at", "3", "--ignore-term"], {"timeout": 0.3}),
}
# 100 runs: the slow kind (a hang, then a 5 s grace before SIGKILL) only once.
PLAN = (
    ["clean"] * 30
    + ["crash"] * 16
    + ["exit-early"] * 16
    + ["guard"] * 15
    + ["guard-ignores-term"] * 8
    + ["finishes-ignoring-term"] * 14
    + ["hangs-ignoring-term"]
)


def main() -> int:
    tag, results, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    plan = (list(KINDS) + PLAN)[:n]  # every kind at least once, then the mix (the hang only once up to 100)
    plan.sort(key=lambda kind: kind == "hangs-ignoring-term")  # what matters most runs first
    me = psutil.Process()
    own = {}
    scenario = load_scenario(LOOP, iterations=12, warmup=2)
    outcomes: dict[str, list[str]] = {}
    for index, kind in enumerate(plan):
        args, options = KINDS[kind]
        config = RunConfig(
            scenario=scenario,
            command=[sys.executable, AGENT, *args, "--daemon-grandchild", "--tag", tag],
            name=f"run-{index:03d}-{kind}",
            results=results,
            counters=(),
            budget=200_000_000,
            **options,
        )
        outcome = run(config)
        s = outcome.summary
        outcomes.setdefault(kind, []).append(f"{s.verdict}/{s.rule}")
        if index in (9, n - 1):  # the harness's own fds and threads after a few runs and at the end
            own[index] = {
                "fds": me.num_fds(),
                "threads": threading.active_count(),
                "children": len(me.children(recursive=True)),
            }
    print(json.dumps({"outcomes": outcomes, "own": own}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

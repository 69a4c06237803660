"""``leakbench bisect``: ``git bisect run`` with leakbench's verdicts as its answers.

Each step tests one commit in a throwaway ``git worktree`` (the user's working
tree, dirty or not, is never touched: the bisection runs with
``--no-checkout``), runs the user's own test command there with leakbench and
its Python as installed, and answers git from the run's ``summary.json``:
PASS is good, LEAK is bad, anything that cannot say (a target error, a usage
error, a scenario that changed, no results at all) is skipped.
"""

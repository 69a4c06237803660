"""The ``leak_*`` ini keys read the same on pytest 8 (untyped, read by leakbench) as on 9.2 (typed by pytest).

Each case is read through pytest's real ini parsing both ways in this process:
registered as pytest 8 has them (string tags, leakbench coerces) and, on pytest
9.2 or later, as pytest types them. The values and the one-line errors must match.
"""

import pytest

from leakbench.pytest_plugin import inikeys
from leakbench.pytest_plugin.marks import given_from_pytest

pytest_plugins = ["pytester"]

GOOD = {
    "leak_iterations = 40": {"iterations": 40},
    "leak_budget = 3MB": {"budget": 3_000_000},
    "leak_budget = 5000000": {"budget": 5_000_000},
    "leak_tracemalloc = false": {"tracemalloc": False},
    "leak_memray = Yes": {"memray": True},
    "leak_mock = loopback": {"mock": "loopback"},
    "leak_counters = fds threads": {"counters": ("fds", "threads")},
    "leak_results = out": {"results": "out"},
    "leak_memray = no": {},  # the default, given again
}
BAD = {
    "leak_iterations = ten": "leak_iterations in tox.ini: invalid literal for int() with base 10: 'ten'",
    "leak_tracemalloc = maybe": "leak_tracemalloc in tox.ini: invalid truth value 'maybe'",
    "leak_mock = socket": "config option 'leak_mock' expects one of 'respx' | 'loopback' | 'process', got 'socket'",
    "leak_budget = 50XB": "leak_budget in tox.ini: cannot read size '50XB'",
}
WAYS = ["untyped", "typed"]


def session(pytester, monkeypatch, way: str, ini: str):
    if way == "typed" and not pytest.version_tuple[:2] >= (9, 2):
        pytest.skip(f"pytest {pytest.__version__} has no typed ini keys: the untyped way is the one it runs")
    monkeypatch.setattr(inikeys, "TYPED_INI_KEYS", way == "typed")
    pytester.makeini(f"[pytest]\n{ini}\n")
    config = pytester.parseconfigure("-p", "no:asyncio", "-p", "no:cacheprovider")
    return given_from_pytest(config)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("ini", GOOD)
def test_good_values_read_the_same(pytester, monkeypatch, way, ini):
    values = session(pytester, monkeypatch, way, ini).values
    assert {name: str(v) if name == "results" else v for name, v in values.items()} == GOOD[ini]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("ini", BAD)
def test_bad_values_are_the_same_one_line(pytester, monkeypatch, way, ini):
    with pytest.raises(pytest.UsageError) as err:
        session(pytester, monkeypatch, way, ini)
    assert BAD[ini] in str(err.value) and "\n" not in str(err.value)


def test_older_pytest_is_given_only_tags_it_accepts(monkeypatch):
    """pytest 8.0's ``addini`` asserts its type is one of these."""
    monkeypatch.setattr(inikeys, "TYPED_INI_KEYS", False)
    from leakbench.pytest_plugin.marks import PYTEST_OPTIONS

    assert {inikeys.ini_type(option) for option in PYTEST_OPTIONS} <= {"string", "args"}

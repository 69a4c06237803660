"""The verdict on synthetic series whose truth is known by construction."""

import numpy as np
import pytest

from leakbench.analysis import Thresholds, default_warmup, judge

N = 1000
MB = 1_000_000
rng = np.random.default_rng(7)
x = np.arange(N + 1)
BASE = 200 * MB


def th(budget=50 * MB, counters=(), warmup=50):
    return Thresholds(budget=budget, per_iteration=budget / N, warmup=warmup, counters=counters)


def noise(scale=2 * MB):
    return rng.normal(0, scale, N + 1)


def test_linear_leak_fails_on_slope_with_its_numbers():
    y = BASE + 100_000 * x + noise()
    # a budget large enough that only the slope can fire, with the default 50 KB/iteration threshold
    v = judge(x, y, Thresholds(budget=500 * MB, per_iteration=50_000, warmup=50), metric="rss")
    assert v.leaked and v.rule == "slope"
    assert 90_000 < v.growth_per_iteration < 110_000
    assert v.growth_per_iteration_low < 100_000 < v.growth_per_iteration_high
    assert "/iteration threshold" in v.reason


def test_clean_noisy_series_passes():
    v = judge(x, BASE + noise(5 * MB), th(), metric="rss")
    assert not v.leaked, v.reason
    assert abs(v.growth_per_iteration) < 20_000


def test_cache_that_fills_then_stays_flat_passes():
    fill = np.minimum(x, 300) * 100_000  # 30 MB over 300 iterations, then flat
    v = judge(x, BASE + fill + noise(1 * MB), th(), metric="rss")
    assert not v.leaked, v.reason
    assert abs(v.tail_growth_per_iteration) < 50_000  # the tail is flat, which is what lets it pass


# go_heap of a Go agent keeping 16 KiB a turn, as a CI run read it (iteration: MiB from there on). gctrace prints
# whole MiB and the live heap at the latest collection lags, so the stairs are uneven and dip back a MiB at times.
GO_STAIRS = {2: 2, 57: 3, 71: 2, 72: 3, 75: 2, 76: 3, 107: 4, 110: 3, 120: 4, 185: 5, 249: 6, 279: 5, 283: 6, 311: 7,
             330: 6, 335: 7, 381: 8, 387: 7, 394: 8}


def stairs(points: dict[int, int], end: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(2, end + 1)
    starts = np.array(sorted(points))
    levels = np.array([points[k] for k in starts])
    return i, levels[np.searchsorted(starts, i, side="right") - 1] * 2.0**20


def test_a_leak_read_in_whole_mib_steps_fails_on_slope():
    """Theil-Sen alone read that run's tail as 0 B/iteration (most pairs tie within a stair) and the leak passed."""
    i, heap = stairs(GO_STAIRS, 400)
    v = judge(i, heap, Thresholds(budget=50 * 2**20, per_iteration=4096, warmup=66), metric="go_heap")
    assert v.leaked and v.rule == "slope", v.reason
    assert v.tail_growth_per_iteration > 4096


def test_a_staircase_that_stopped_climbing_passes():
    i, heap = stairs({k: v for k, v in GO_STAIRS.items() if k < 250}, 400)  # the same run, had it stopped at 5 MiB
    v = judge(i, heap, Thresholds(budget=50 * 2**20, per_iteration=4096, warmup=66), metric="go_heap")
    assert not v.leaked, v.reason


def test_sawtooth_garbage_collector_passes():
    saw = (x % 50) * 1 * MB  # grows 50 MB, collected, again
    v = judge(x, BASE + saw, th(budget=60 * MB), metric="rss")
    assert not v.leaked, v.reason


def test_one_step_over_budget_fails_on_peak_not_slope():
    step = np.where(x > 600, 80 * MB, 0)
    v = judge(x, BASE + step + noise(0.5 * MB), th(), metric="rss")
    assert v.leaked and v.rule == "peak"


def test_one_step_under_budget_passes():
    step = np.where(x > 600, 20 * MB, 0)
    v = judge(x, BASE + step + noise(0.5 * MB), th(), metric="rss")
    assert not v.leaked, v.reason


def test_spike_between_boundaries_is_caught_through_peaks():
    y = BASE + noise(0.5 * MB)
    peaks = np.full(N + 1, np.nan)
    peaks[700] = BASE + 900 * MB
    v = judge(x, y, th(), metric="rss", peaks=peaks)
    assert v.leaked and v.rule == "peak"
    assert v.peak_over_baseline > 800 * MB


def test_counter_rule_is_cpythons_every_delta_at_least_one():
    flat = np.full(N + 1, 10.0)
    one_per_iteration = 10.0 + x
    wobbly = 10.0 + x + np.where(x % 7 == 0, -2, 0)  # grows on average but not every time
    v = judge(x, BASE + noise(), th(counters=("fds", "threads", "blocks")), metric="rss",
              counters={"fds": one_per_iteration, "threads": flat, "blocks": wobbly})
    assert v.leaked and v.rule == "counter"
    assert v.counters["fds"]["fired"] and v.counters["fds"]["deltas"] == [1] * 10
    assert not v.counters["threads"]["fired"]
    assert not v.counters["blocks"]["fired"]


def test_counter_not_judged_when_switched_off():
    v = judge(x, BASE + noise(), th(counters=()), metric="rss", counters={"fds": 10.0 + x})
    assert not v.leaked


def test_warmup_growth_is_ignored():
    y = BASE + np.where(x < 50, x * 2 * MB, 100 * MB) + noise(0.5 * MB)
    v = judge(x, y, th(warmup=50), metric="rss")
    assert not v.leaked, v.reason


@pytest.mark.parametrize("iterations,expected", [(1000, 50), (100, 20), (30, 15), (10000, 500)])
def test_default_warmup(iterations, expected):
    assert default_warmup(iterations) == expected


def test_long_runs_are_reduced_before_fitting():
    n = 20_000
    xs = np.arange(n + 1)
    v = judge(xs, BASE + 10_000 * xs + rng.normal(0, MB, n + 1),
              Thresholds(budget=100 * MB, per_iteration=1000, warmup=100), metric="rss")
    assert v.leaked and 9_000 < v.growth_per_iteration < 11_000


def test_peak_read_at_the_warmup_boundary_belongs_to_the_warmup():
    # memory fell when the window opened (a collection): the peak read at the
    # warm-up boundary is from before it and must not count against the baseline
    y = np.where(x < 50, BASE + 5 * MB, BASE) + noise(0.1 * MB)
    peaks = np.full(N + 1, np.nan)
    peaks[50] = BASE + 60 * MB
    v = judge(x, y, th(warmup=50), metric="rss", peaks=peaks)
    assert not v.leaked, v.reason

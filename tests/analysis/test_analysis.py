"""The verdict on synthetic series whose truth is known by construction."""

import numpy as np
import pytest

from leakbench.verdict.analysis import Thresholds, default_warmup, judge

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
GO_STAIRS = {
    2: 2,
    57: 3,
    71: 2,
    72: 3,
    75: 2,
    76: 3,
    107: 4,
    110: 3,
    120: 4,
    185: 5,
    249: 6,
    279: 5,
    283: 6,
    311: 7,
    330: 6,
    335: 7,
    381: 8,
    387: 7,
    394: 8,
}


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


def counters(series: dict, n: int = N, warmup: int = 50):
    """Judge exact counters alone (memory flat) over iterations 0..n."""
    xs = np.arange(n + 1)
    return judge(
        xs,
        np.full(n + 1, float(BASE)),
        Thresholds(budget=50 * MB, per_iteration=50 * MB / n, warmup=warmup, counters=tuple(series)),
        metric="rss",
        counters={name: f(xs).astype(float) for name, f in series.items()},
    )


@pytest.mark.parametrize("window", [10, 13, 17, 26, 39])
def test_a_short_window_still_catches_one_per_iteration(window):
    """Five stretches of span/5 each: 13 / 2.6 is 4.999... in floating point, and a run stopped early has such windows."""
    v = counters({"fds": lambda i: 10 + i}, n=70 + window, warmup=70)
    assert v.leaked and v.counters["fds"]["fired"], v.counters["fds"]


def test_a_counter_rising_by_one_each_iteration_is_a_leak_with_its_rate():
    v = counters({"fds": lambda i: 10 + i, "threads": lambda i: np.full(len(i), 3)})
    assert v.leaked and v.rule == "counter"
    assert v.counters["fds"]["fired"] and v.counters["fds"]["growth_per_iteration"] == pytest.approx(1.0)
    assert "fds +1.00/iteration over 950 iterations, still rising" in v.reason
    assert not v.counters["threads"]["fired"] and v.counters["threads"]["seen"] == "flat"


def test_a_counter_that_grows_with_dips_is_a_leak():
    """The every-delta rule missed it: a dip every 7th iteration broke the run of rises."""
    v = counters({"blocks": lambda i: 10 + i + np.where(i % 7 == 0, -2, 0)})
    assert v.leaked and v.counters["blocks"]["growth_per_iteration"] == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("every", [3, 7])
@pytest.mark.parametrize("n", [100, 137, 200, 301, 466, 1000])
def test_an_object_kept_every_few_iterations_is_a_leak_wherever_the_run_ends(every, n):
    """Deltas 0, 0, 5, 0, 0, 5: never a rise in each of the last k, always a floor that rises."""
    v = counters({"blocks": lambda i: 70_000 + 5 * ((i + 1) // every)}, n=n, warmup=20)
    assert v.leaked, v.counters["blocks"]
    assert v.counters["blocks"]["growth_per_iteration"] == pytest.approx(5 / every, rel=0.2)


@pytest.mark.parametrize("period", [50, 120, 200])
def test_a_batch_flushed_every_period_is_bounded_wherever_the_run_ends(period):
    """A sawtooth: the end of the run falls at every phase of the period, and the floor never rises."""
    for n in range(20 + 5 * period, 20 + 7 * period, 7):
        v = counters({"blocks": lambda i: 67_000 + 25 * (i % period)}, n=n, warmup=20)
        assert not v.leaked, (n, v.counters["blocks"])
        assert v.counters["blocks"]["seen"] == f"bounded: falls back every ~{period} iterations"


def test_a_batch_flushed_with_a_record_kept_per_flush_is_a_leak():
    """The flush hides nothing: its troughs rise by a record every period."""
    v = counters({"blocks": lambda i: 67_000 + 25 * (i % 50) + 4 * (i // 50)})
    assert v.leaked and v.counters["blocks"]["falls"] >= 18


def test_a_period_under_five_times_in_the_window_is_called_bounded_and_says_why():
    v = counters({"blocks": lambda i: 67_000 + 3 * (i % 200)}, n=400, warmup=20)
    assert not v.leaked
    assert "too few periods" in v.counters["blocks"]["seen"] and "blocks falls back" in v.reason


def test_a_period_longer_than_the_window_cannot_be_told_from_a_leak():
    """The limit the docs state: until its first fall, a flush every 200 looks like a leak."""
    v = counters({"blocks": lambda i: 67_000 + 3 * (i % 200)}, n=190, warmup=20)
    assert v.leaked


def test_a_fill_that_ended_and_one_step_pass():
    v = counters({"fill": lambda i: 10 + 2 * np.minimum(i, 500), "step": lambda i: 10 + 40 * (i > 600)})
    assert not v.leaked, v.reason
    assert "then stopped" in v.counters["fill"]["seen"]


def test_a_counter_rising_in_a_few_steps_is_not_a_trend():
    """Steps at doublings (a table resized) lift the floor a few times, not steadily."""
    v = counters({"blocks": lambda i: sum(30 * (i >= 2**k) for k in range(4, 11))})
    assert not v.leaked, v.counters["blocks"]


def test_too_few_samples_are_not_judged():
    v = counters({"fds": lambda i: 10 + i}, n=24, warmup=20)
    assert not v.leaked and v.counters["fds"]["seen"] == "too few samples to judge"


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
    v = judge(
        xs,
        BASE + 10_000 * xs + rng.normal(0, MB, n + 1),
        Thresholds(budget=100 * MB, per_iteration=1000, warmup=100),
        metric="rss",
    )
    assert v.leaked and 9_000 < v.growth_per_iteration < 11_000


def test_peak_read_at_the_warmup_boundary_belongs_to_the_warmup():
    # memory fell when the window opened (a collection): the peak read at the
    # warm-up boundary is from before it and must not count against the baseline
    y = np.where(x < 50, BASE + 5 * MB, BASE) + noise(0.1 * MB)
    peaks = np.full(N + 1, np.nan)
    peaks[50] = BASE + 60 * MB
    v = judge(x, y, th(warmup=50), metric="rss", peaks=peaks)
    assert not v.leaked, v.reason

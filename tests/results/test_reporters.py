"""What people read after a run: the plot, the summary in three places, the diff and compare tables."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from leakbench import cli
from leakbench.verdict.comparison import Diff, StackChange, compare_run
from leakbench.reporters import plot, write_reports
from leakbench.reporters.diff_rows import diff_row
from leakbench.reporters.html import HTML, diff_html
from leakbench.reporters.markdown import MARKDOWN, compare_markdown, diff_markdown
from leakbench.pytest_plugin.summary import failure_message, slim
from leakbench.reporters.summary_text import SummaryText
from leakbench.reporters.terminal import print_summary
from leakbench.verdict.results import PLOT, SAMPLES, SUMMARY, Summary
from leakbench.units import format_size

KIB, MIB = 1024, 2**20
PROBE = {"kind": "inprocess", "fields": ["rss", "gc_objects", "sockets", "peak"], "metrics": ["rss"],
         "counters": ["gc_objects"], "on_request": ["sockets"], "peak_field": "peak"}


def leaky_summary(**fields) -> Summary:
    summary = Summary(
        verdict="leak", rule="slope", reason="rss grows 1 MiB/iteration", iterations=60, iterations_done=60, warmup=10,
        budget=50_000_000, per_iteration=833_333.0, metric="rss", probe=PROBE, target={"kind": "inprocess"},
        scenario={"name": "loop", "hash": "abcdef0123456789"}, growth_per_iteration=1023.7 * KIB,
        growth_per_iteration_low=1000 * KIB, growth_per_iteration_high=1050 * KIB, total_growth=59 * MIB,
        peak_over_baseline=60 * MIB, baseline=30 * MIB, intercept=29 * MIB, exit_code=1,
    )
    summary.update(**fields)
    return summary


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A finished run's samples, and no summary.json: reporters are given the summary."""
    rows = [{"i": i, "t": i / 10, "rss": 30 * MIB + i * MIB, "gc_objects": 1000 + i, "sockets": i // 10,
             "peak": 30 * MIB + i * MIB + 512 * KIB} for i in range(61)]
    (tmp_path / SAMPLES).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return tmp_path


# -- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size, text", [
    (1000 * KIB, "0.977 MiB"), (1023.7 * KIB, "1 MiB"), (999.4 * KIB, "999 KiB"), (-1000 * MIB, "-0.977 GiB"),
    (1023, "1023 B"), (2**40 * 1500, "1500 TiB"),
])
def test_sizes_never_print_in_e_notation(size, text):
    assert format_size(size) == text
    assert "e+" not in format_size(size, signed=True)


# -- one summary, three places ---------------------------------------------------------------------


def test_the_terminal_the_failure_and_the_table_show_the_same_figures(tmp_path):
    summary = leaky_summary()
    console = Console(record=True, width=200)
    print_summary(summary, tmp_path, console)
    terminal = console.export_text()
    failure = failure_message(summary, tmp_path)
    row = SummaryText(summary).table_row("tests/test_app.py::test_loop")
    for figure in ("+1 MiB", "+59 MiB", "+60 MiB", "47.7 MiB"):
        assert figure in terminal and figure in failure and figure in row, figure
    assert terminal.startswith("LEAK [slope]: rss grows 1 MiB/iteration")
    assert failure.startswith("leakbench: LEAK (rule: slope)\n  rss grows") and f"results: {tmp_path}" in failure
    assert row.split()[1] == "60" and row.endswith("leak (slope)")


def test_the_table_row_of_a_worker_summary_matches_the_row_of_the_run():
    """Under xdist the controller only sees what ``slim`` put into the report, as JSON."""
    summary = leaky_summary(attribution="Session +1 per iteration")
    travelled = Summary.from_dict(json.loads(json.dumps(slim(summary))))
    assert SummaryText(travelled).table_row("t.py::x") == SummaryText(summary).table_row("t.py::x")


def test_a_pytest_id_with_brackets_is_printed_not_taken_for_markup(tmp_path):
    console = Console(record=True, width=200)
    print_summary(leaky_summary(scenario={"name": "test_x[bold]", "hash": "h"}), tmp_path, console)
    assert "test_x[bold]" in console.export_text()



def test_off_a_terminal_a_line_stays_one_line(tmp_path):
    """A CI log is no terminal: rich wrapped the verdict and the paths in it at 80 columns."""
    import subprocess
    import sys

    run_dir = tmp_path / ("a-results-directory-whose-path-is-long-enough-to-pass-eighty-columns-" + "x" * 40)
    run_dir.mkdir()
    log = run_dir / "target.log"
    reason = f"target exited with code 1 after its last iteration; its output is in {log}; memory alone: pass"
    leaky_summary(verdict="error", rule=None, reason=reason, exit_code=3).save(run_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    proc = subprocess.run([sys.executable, "-m", "leakbench", "report", str(run_dir)], capture_output=True, text=True,
                          env=env, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 3
    assert lines[0] == f"ERROR: {reason}"
    assert f"results             {run_dir}" in [line.rstrip() for line in lines]


# -- the plot --------------------------------------------------------------------------------------


def test_the_caption_stays_on_the_image_and_no_legend_covers_a_line(run_dir):
    """memory.png's caption ran off its right edge, and its legend sat on the data in the upper left."""
    import matplotlib.pyplot as plt

    reason = "; ".join(f"counter_{k} +20.00/iteration over 49 iterations, still rising (floor rose in 5 of 5)" for k in range(5))
    fig = plot.memory_figure(run_dir, leaky_summary(reason=reason))
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        image = fig.bbox
        [caption] = fig.texts
        box = caption.get_window_extent(renderer)
        assert image.x0 <= box.x0 and box.x1 <= image.x1 and image.y0 <= box.y0
        assert caption.get_text().replace("\n", " ") == reason  # wrapped, not cut
        for ax in fig.axes:
            legend = ax.get_legend().get_window_extent(renderer)
            assert legend.x0 >= ax.get_window_extent(renderer).x1 and legend.x1 <= image.x1
            assert not box.overlaps(ax.get_window_extent(renderer))
    finally:
        plt.close(fig)


def test_reports_draw_the_plot_from_the_given_summary_and_the_probe_it_records(run_dir, monkeypatch):
    drawn: list[list[str]] = []
    draw_counters = plot._draw_counters
    monkeypatch.setattr(plot, "_draw_counters", lambda ax, samples, counters: (drawn.append(counters), draw_counters(ax, samples, counters)))
    summary = leaky_summary()
    write_reports(run_dir, summary)
    assert (run_dir / PLOT).stat().st_size > 1000
    assert drawn == [["gc_objects", "sockets"]]  # the probe's counters, one it judges only on request too
    assert not (run_dir / SUMMARY).exists() and summary.plot_error is None


def test_a_plot_that_fails_is_recorded_and_the_verdict_stands(tmp_path):
    summary = leaky_summary()  # no samples.jsonl: nothing to draw
    write_reports(tmp_path, summary)
    saved = Summary.load(tmp_path)
    assert saved.plot_error and SAMPLES in saved.plot_error
    assert (saved.verdict, saved.rule, saved.exit_code) == ("leak", "slope", 1)


def test_report_redraws_a_run_and_exits_with_its_code(run_dir, capsys):
    leaky_summary().save(run_dir)
    assert cli.main(["report", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "LEAK [slope]" in out and f"plot: {run_dir / PLOT}" in out
    assert (run_dir / PLOT).is_file()


def test_report_of_a_directory_without_a_run_is_one_line_exit_2(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "no summary.json in it or under it" in err[0]


# -- compare and diff tables -----------------------------------------------------------------------


def figures(verdict: str, growth: float) -> Summary:
    return Summary(verdict=verdict, metric="rss", scenario={"hash": "h"}, growth_per_iteration=growth)


def test_compare_says_pass_to_leak_with_an_arrow_in_the_terminal_and_markdown(tmp_path, capsys, monkeypatch):
    for side, verdict, growth in (("base", "pass", 10.0), ("head", "leak", 100 * KIB)):
        (tmp_path / side / "test_app").mkdir(parents=True)
        figures(verdict, growth).save(tmp_path / side / "test_app")
    step_summary = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    assert cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "head")]) == 1
    for text in (capsys.readouterr().out, step_summary.read_text()):
        row = next(line for line in text.splitlines() if "test_app" in line)
        assert "**regressed**" in row and "pass -> leak" in row and "&gt;" not in row


def test_a_tag_like_name_stays_escaped_for_github():
    table = compare_markdown([compare_run("<module> | x", figures("pass", 1.0), None)])
    assert "&lt;module> \\| x" in table


CHANGE = StackChange(
    frames=(("<lambda>", "app/<gen>.py", 3), ("handle", "app/server.py", 10), ("serve", "app/server.py", 20),
            ("main", "app/cli.py", 5), ("<module>", "app/__main__.py", 1)),
    base_bytes_per_iteration=0.0, head_bytes_per_iteration=1023.7 * KIB,
    base_count_per_iteration=0.0, head_count_per_iteration=1.0,
)
DIFF = Diff("function", "base", "head", 10.0, 1023.7 * KIB + 10, [CHANGE], [])


def test_one_diff_row_in_markdown_html_and_the_terminal(tmp_path, capsys):
    markdown, html = diff_row(CHANGE, MARKDOWN), diff_row(CHANGE, HTML)
    assert (markdown.change, markdown.base, markdown.head) == (html.change, html.base, html.head) == ("+1 MiB", "0 B", "1 MiB")
    assert markdown.allocated_in == "`<lambda>` app/&lt;gen>.py:3"
    assert markdown.called_from == "`handle` < `serve` < `main` ..."
    assert html.allocated_in == "<code>&lt;lambda&gt;</code> app/&lt;gen&gt;.py:3"
    assert "| +1 MiB | 0 B | 1 MiB | `<lambda>`" in diff_markdown(DIFF)
    page = diff_html(DIFF)
    assert "<li><code>handle</code> app/server.py:10</li>" in page and "<lambda>" not in page


def test_a_leak_inside_a_dependency_shows_the_package_crossings_and_the_callers_code():
    """Allocated in pydantic, called by the SDK, called by the user's agent: all three are in the row."""
    frames = (("model_validate", "pydantic/main.py", 700), ("_validate", "pydantic/_internal/_model_construction.py", 10),
              ("construct", "openai/_models.py", 5), ("_process", "openai/_base_client.py", 7),
              ("create", "openai/resources/chat/completions.py", 3), ("turn", "agent.py", 40), ("main", "agent.py", 60))
    change = StackChange(frames, 0.0, 4 * KIB, 0.0, 1.0)
    row = diff_row(change, MARKDOWN)
    assert row.allocated_in == "`model_validate` pydantic/main.py:700"
    assert row.called_from == "`construct` (openai) < ... < `turn` agent.py:40"
    assert diff_row(change, MARKDOWN, depth=1).called_from == "`construct` (openai) < ..."
    page = diff_html(Diff("function", "base", "head", 0.0, 4 * KIB, [change], []))
    assert "<code>construct</code> (openai) &lt; ... &lt; <code>turn</code> agent.py:40" in page


def test_the_diff_command_prints_the_same_row(tmp_path, capsys, monkeypatch):
    from leakbench.commands import diff as diff_command

    monkeypatch.setattr(diff_command, "load_allocations", lambda path: {})
    monkeypatch.setattr(diff_command, "diff_allocations", lambda *args, **kwargs: DIFF)
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["diff", str(tmp_path), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\+1 MiB .* 0 B .* 1 MiB .* <lambda> app/<gen>\.py:3 .* handle < serve < main \.\.\.", out)
    assert "left behind per iteration: 10 B -> 1 MiB (+1 MiB)" in out


# -- pytest ----------------------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_leak_baseline_compares_the_session_with_a_base_tree(pytester):
    """The table is printed by the controller from the summaries the tests reported; the baseline decides the exit."""
    pytester.makepyfile(test_loop="""
KEPT = []

def test_loop(leak):
    for i in leak.iterations(80):
        KEPT.append(b"x" * 200_000)
""")
    head, base = pytester.path / "head", pytester.path / "base"
    session = ("-p", "no:cacheprovider", "-p", "no:randomly", "--leak-budget=5MB", f"--leak-results={head}")
    pytester.runpytest_subprocess(*session)
    run_dir = next(path.parent for path in head.glob("*/summary.json"))
    passed = Summary.load(run_dir)
    passed.update(verdict="pass", rule=None)
    (base / run_dir.name).mkdir(parents=True)
    passed.save(base / run_dir.name)
    result = pytester.runpytest_subprocess(*session, f"--leak-baseline={base}")
    row = next(line for line in result.stdout.lines if line.startswith("test_loop.py::test_loop "))
    assert row.endswith(("leak (slope)", "leak (peak)"))
    out = result.stdout.str()
    assert "compared with baseline" in out and "pass -> leak" in out
    assert result.ret == 1


def test_leak_baseline_and_results_read_from_the_ini_file(pytester):
    """The baseline is an option of the table like any other: an ini key compares as the flag does."""
    pytester.makepyfile(test_loop="""
def test_loop(leak):
    for i in leak.iterations(30):
        pass
""")
    head, base = pytester.path / "head", pytester.path / "base"
    pytester.makeini(f"[pytest]\nleak_results = {head}\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider")
    run_dir = next(path.parent for path in head.glob("*/summary.json"))
    leaked = Summary.load(run_dir)
    leaked.update(verdict="leak", rule="slope")
    (base / run_dir.name).mkdir(parents=True)
    leaked.save(base / run_dir.name)
    pytester.makeini(f"[pytest]\nleak_results = {head}\nleak_baseline = {base}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert "leak -> pass" in result.stdout.str()
    assert result.ret == 0


def test_leak_baseline_that_pairs_nothing_fails_the_session_unless_allowed(pytester):
    """A baseline whose runs this session did not write compared nothing: that is no pass."""
    pytester.makepyfile(test_loop="""
def test_loop(leak):
    for i in leak.iterations(30):
        pass
""")
    base = pytester.path / "base"
    (base / "renamed.test_loop").mkdir(parents=True)
    Summary(verdict="pass", metric="rss", scenario={"name": "s", "hash": "h", "path": None}).save(base / "renamed.test_loop")
    session = ("-p", "no:cacheprovider", f"--leak-results={pytester.path / 'head'}", f"--leak-baseline={base}")
    result = pytester.runpytest_subprocess(*session)
    assert result.ret == 1
    [line] = [line for line in result.stdout.lines if line.startswith("leakbench: --leak-baseline: ")]
    assert "nothing paired: 1 base run not in head (renamed.test_loop)" in line and "--leak-allow-missing" in line
    assert pytester.runpytest_subprocess(*session, "--leak-allow-missing").ret == 0

"""Tables a pull-request comment or a GitHub job summary can hold.

GitHub caps a comment at 65,536 characters, so both tables keep to the rows
that matter: the largest stack changes, and every run that did not stay
unchanged.
"""

from __future__ import annotations

from leakbench.reporters.diff_rows import DEPTH, Markup, diff_row, totals_text
from leakbench.units import format_duration, format_size
from leakbench.verdict.comparison import REGRESSED, UNCHANGED, Comparison, Diff, RunFigures, StackChange
from leakbench.verdict.sessions import SessionRecord, span_s

TOP = 10
MAX_UNCHANGED = 50


def diff_markdown(diff: Diff, top: int = TOP, depth: int = DEPTH) -> str:
    matched = "function and file" if diff.key == "function" else "function, file and line"
    lines = [
        f"### leakbench diff: {_cell(diff.base_label)} -> {_cell(diff.head_label)}",
        "",
        f"Left behind per iteration: {totals_text(diff, MARKDOWN)}; stacks matched by {matched}.",
    ]
    for title, rows in (("Grown", diff.grown), ("Shrunk", diff.shrunk)):
        lines += ["", f"**{title}** ({len(rows)} stacks{f', top {top}' if len(rows) > top else ''})", ""]
        if not rows:
            lines.append("none")
            continue
        lines += ["| change / iteration | base | head | allocated in | called from |", "|---:|---:|---:|---|---|"]
        lines += [_stack_row(row, depth) for row in rows[:top]]
    return "\n".join(lines) + "\n"


def compare_markdown(comparisons: list[Comparison]) -> str:
    counts: dict[str, int] = {}
    for c in comparisons:
        counts[c.word] = counts.get(c.word, 0) + 1
    tally = ", ".join(f"**{n} {word}**" if word == REGRESSED else f"{n} {word}" for word, n in counts.items())
    lines = ["### leakbench compare", "", tally or "no runs on either side", ""]
    if not comparisons:
        return "\n".join(lines)
    sharded = any(c.shard for c in comparisons)  # a root merged from shards: say where each row ran
    lines += [
        "| run |"
        + (" shard |" if sharded else "")
        + " result | growth / iteration, base | head | ratio | verdict | why |",
        "|---|" + ("---|" if sharded else "") + "---|---:|---:|---:|---|---|",
    ]
    shown = [c for c in comparisons if c.word != UNCHANGED]
    unchanged = [c for c in comparisons if c.word == UNCHANGED]
    for c in shown + unchanged[:MAX_UNCHANGED]:
        word = f"**{c.word}**" if c.word == REGRESSED else c.word
        shard = f" {_cell(c.shard)} |" if sharded else ""
        lines.append(
            f"| {_cell(c.name)} |{shard} {word} | {_growth(c.base)} | {_growth(c.head)} | {_ratio(c)} | "
            f"{_verdicts(c)} | {_cell(c.reason)} |"
        )
    if len(unchanged) > MAX_UNCHANGED:
        lines.append(f"\n... and {len(unchanged) - MAX_UNCHANGED} more unchanged runs")
    lines += ["", "Growth per iteration with its 95% interval; regressed = intervals apart and higher by a factor."]
    return "\n".join(lines) + "\n"


def shards_markdown(sides: dict[str, dict[str, SessionRecord]], budget_s: float | None = None) -> tuple[str, list[str]]:
    """Each shard's sessions (a column per side) and the whole run's time, and a line per shard past its time.

    Empty for plain roots (one session a side, no shards): the runs' table says it all.
    """
    if not any(shard for records in sides.values() for shard in records):
        return "", []
    late = []
    lines = ["### shards", "", "| shard | " + " | ".join(sides) + " |", "|---|" + "---|" * len(sides)]
    for shard in sorted({shard for records in sides.values() for shard in records}):
        cells = []
        for side, records in sides.items():
            record = records.get(shard)
            cells.append(_session_cell(record, budget_s))
            if record is not None and (record.ended is None or (budget_s and record.wall_s > budget_s)):
                late.append(f"{shard or 'the root'} {side}: {cells[-1].replace('**', '')}")
        lines.append(f"| {_cell(shard or '(root)')} | " + " | ".join(cells) + " |")
    every = [(side, shard, r) for side, records in sides.items() for shard, r in records.items()]
    first = min(r.started for _, _, r in every)
    last = max(r.ended or r.updated for _, _, r in every)
    span = span_s(first, last)
    side, shard, slowest = max(every, key=lambda e: e[2].wall_s)
    lines += [
        "",
        f"Measured from {first} to {last}: {format_duration(span)} wall, "
        f"{format_duration(sum(r.wall_s for _, _, r in every))} of runner time in {len(every)} sessions; "
        f"the slowest, {_cell(shard or '(root)')} {side}, took {format_duration(slowest.wall_s)}"
        + (f" (budget {format_duration(budget_s)} a shard)." if budget_s else "."),
    ]
    return "\n".join(lines) + "\n", late


def _session_cell(record: SessionRecord | None, budget_s: float | None) -> str:
    if record is None:
        return "-"
    tests = f"{record.leak_tests} leak test{'s' if record.leak_tests != 1 else ''}"
    if record.ended is None:
        return f"did not end: {tests} by {record.updated}, {format_duration(record.wall_s)} in (cut at a time limit?)"
    text = f"{tests} in {format_duration(record.wall_s)}"
    if budget_s and record.wall_s > budget_s:
        text += f", **over the {format_duration(budget_s)} budget**: add shards"
    return text


def _stack_row(change: StackChange, depth: int) -> str:
    row = diff_row(change, MARKDOWN, depth)
    return f"| {row.change} | {row.base} | {row.head} | {row.allocated_in} | {row.called_from} |"


def _growth(side: RunFigures | None) -> str:
    if side is None or side.growth is None:
        return "-"
    text = format_size(side.growth, signed=True)
    if side.low is not None and side.high is not None and side.low != side.high:
        text += f" ({format_size(side.low, signed=True)} to {format_size(side.high, signed=True)})"
    return text


def _ratio(c: Comparison) -> str:
    if c.ratio is not None:
        return f"{c.ratio:.2f}x"
    if c.base and c.head and c.base.growth is not None and c.head.growth and c.head.growth > 0:
        return "new"
    return "-"


def _verdicts(c: Comparison) -> str:
    before = c.base.verdict if c.base else "-"
    after = c.head.verdict if c.head else "-"
    return before if before == after else f"{before} -> {after}"


def _cell(text: str) -> str:
    """Text outside code spans: GitHub would take <module> for an HTML tag.

    Only ``<`` opens a tag; ``>`` stays, so ``pass -> leak`` reads the same
    in a terminal as on GitHub.
    """
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _code(text: str) -> str:
    """A code span: a backtick inside would end it, a pipe would end the cell."""
    inner = str(text).replace("`", "'").replace("|", "\\|")
    return f"`{inner}`"


MARKDOWN = Markup(code=_code, text=_cell, strong=lambda text: f"**{text}**")

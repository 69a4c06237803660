"""``diff.html``: the stack diff as one self-contained page.

No scripts, fonts or stylesheets from a CDN: the page is opened from a CI
artifact, often offline or behind a proxy. Full stacks fold into
``<details>`` so the table stays readable.
"""

from __future__ import annotations

from html import escape

from leakbench.reporters.diff_rows import DEPTH, Markup, diff_row, frame_text, totals_text
from leakbench.verdict.comparison import Diff, StackChange

TOP = 50

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1d2125; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #dde1e4; padding: .35em .6em; vertical-align: top; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.up { color: #b3261e; } .down { color: #1e7b34; }
code { font: 13px ui-monospace, monospace; }
details ol { margin: .3em 0; padding-left: 1.5em; color: #555; }
"""


def diff_html(diff: Diff, top: int = TOP, depth: int = DEPTH) -> str:
    matched = "function and file" if diff.key == "function" else "function, file and line"
    sections = "".join(
        _section(title, rows, top, css, depth)
        for title, rows, css in (("Grown", diff.grown, "up"), ("Shrunk", diff.shrunk, "down"))
    )
    title = f"leakbench diff: {diff.base_label} -> {diff.head_label}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head>\n'
        f"<body><h1>{escape(title)}</h1>\n"
        f"<p>Left behind per iteration: {totals_text(diff, HTML)}. "
        f"Stacks matched by {matched}; sizes are bytes still allocated at the end of the capture, per iteration.</p>\n"
        f"{sections}</body></html>\n"
    )


def _section(title: str, rows: list[StackChange], top: int, css: str, depth: int) -> str:
    head = f"<h2>{title} ({len(rows)} stacks{f', top {top}' if len(rows) > top else ''})</h2>\n"
    if not rows:
        return head + "<p>none</p>\n"
    body = "".join(_row(row, css, depth) for row in rows[:top])
    return (
        head + "<table><thead><tr><th>change / iteration</th><th>base</th><th>head</th>"
        "<th>allocated in (the whole stack inside)</th><th>called from</th></tr></thead>\n<tbody>\n"
        + body
        + "</tbody></table>\n"
    )


def _row(change: StackChange, css: str, depth: int) -> str:
    row = diff_row(change, HTML, depth)
    callers = [frame_text(frame, HTML) for frame in change.frames[1:]]
    stack = (
        f"<details><summary>{row.allocated_in}</summary><ol>{''.join(f'<li>{f}</li>' for f in callers)}</ol></details>"
        if callers
        else row.allocated_in
    )
    return (
        f'<tr><td class="n {css}">{row.change}</td><td class="n">{row.base}</td>'
        f'<td class="n">{row.head}</td><td>{stack}</td><td>{row.called_from}</td></tr>\n'
    )


HTML = Markup(
    code=lambda text: f"<code>{escape(text)}</code>",
    text=escape,
    strong=lambda text: f"<strong>{text}</strong>",
    arrow="&rarr;",
    called_by=" &lt; ",
)

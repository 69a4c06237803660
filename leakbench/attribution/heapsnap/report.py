"""The grown constructors as text, markdown and HTML, from ``summary.heap_growth``.

Rendered from the summary's rows (not from snapshots, which are gone by
then), so ``leakbench report`` renders an old run the same way.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from leakbench.units import format_size
from leakbench.verdict.results import write_pages

MARKDOWN = "heap-growth.md"
HTML = "heap-growth.html"
_TITLE = "heap snapshots: constructors that grew at every snapshot of the window"
_NOTE = (
    "count at each snapshot; size retained by the instances created in the window; "
    "one retainer path from a GC root to one of them"
)


def heap_growth_lines(rows: list[dict[str, Any]] | None, error: str | None = None) -> list[str]:
    """For the terminal and a pytest failure: one line per constructor, its path after it."""
    if error and not rows:
        return [f"heap snapshots: {error}"]
    if rows is None:
        return []
    if not rows:
        return ["heap snapshots: no constructor grew at every snapshot of the window"]
    return [f"{_TITLE} ({_NOTE})"] + [f"{_indent(row)}{row['text']}  (count {_counts(row)})" for row in rows]


def heap_growth_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"### {_TITLE}",
        "",
        f"_{_NOTE}_",
        "",
        "| constructor | new | retained | count at each snapshot | held by |",
        "|---|---:|---:|---|---|",
    ]
    for row in rows:
        path = " &larr; ".join(_md(step) for step in row["path"]) or "-"
        lines.append(
            f"| {'&nbsp;&nbsp;' if row.get('held_by') else ''}`{_md(row['constructor'])}` | {row['new']} | {format_size(row['retained'])} | {_counts(row)} | {path} |"
        )
    return "\n".join(lines) + "\n"


def heap_growth_html(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{'&nbsp;&nbsp;' if row.get('held_by') else ''}<code>{escape(row['constructor'])}</code></td><td class=n>{row['new']}</td>"
        f"<td class=n>{escape(format_size(row['retained']))}</td><td>{escape(_counts(row))}</td>"
        f"<td>{' &larr; '.join(f'<code>{escape(step)}</code>' for step in row['path']) or '-'}</td></tr>\n"
        for row in rows
    )
    headers = ("constructor", "new", "retained", "count at each snapshot", "held by")
    return table_page("leakbench heap growth", _TITLE, _NOTE, headers, body)


def table_page(title: str, heading: str, note: str, headers: tuple[str, ...], body: str) -> str:
    """One table on a page of its own, in the style every leakbench page shares; ``body``: its ``<tr>`` rows."""
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border-bottom:1px solid #dde1e4;padding:.35em .6em;text-align:left;vertical-align:top}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}code{font:13px ui-monospace,monospace}</style></head>\n"
        f"<body><h1>{escape(heading)}</h1><p>{escape(note)}.</p>\n<table><thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}</tbody></table></body></html>\n"
    )


def write_heap_growth(run_dir: Path, rows: list[dict[str, Any]] | None) -> None:
    """``heap-growth.md`` and ``heap-growth.html`` beside the summary, when a constructor grew."""
    write_pages(run_dir, rows, {MARKDOWN: heap_growth_markdown, HTML: heap_growth_html})


def _indent(row: dict[str, Any]) -> str:
    """What another row's instances hold comes under it, indented."""
    return "    " if row.get("held_by") else "  "


def _counts(row: dict[str, Any]) -> str:
    return " -> ".join(str(n) for n in row.get("counts", []))


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")

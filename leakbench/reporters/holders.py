"""Who holds a Python leak, as text, markdown and HTML, from ``summary.holders``.

Rendered from the summary's rows, so ``leakbench report`` renders an old run
the same way; the rows themselves come from ``attribution/holders.py``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from leakbench.attribution.heapsnap.report import table_page
from leakbench.units import format_size
from leakbench.verdict.results import write_pages

MARKDOWN = "holders.md"
HTML = "holders.html"
TITLE = "held by: containers that grew over the window, named from their root"
NOTE = (
    "entries each container gained per iteration; bytes its new entries hold (strings and bytes included), "
    "per iteration; where the newest entry was allocated, when tracemalloc traced it"
)


def holder_line(row: dict[str, Any]) -> str:
    """``dict +1.00 entries/iteration, +977 KiB/iteration retained <- myagent._CACHE (module global)``"""
    line = (
        f"{row['type']} +{row['entries_per_iteration']:.2f} entries/iteration, "
        f"{format_size(row['retained_per_iteration'], signed=True)}/iteration retained "
        f"<- {row['holder']} ({row['root']})"
    )
    return line + (f"; allocated at {row['allocated_at']}" if row.get("allocated_at") else "")


def holder_lines(rows: list[dict[str, Any]] | None) -> list[str]:
    """For the terminal and a pytest failure: the holders first, as they answer "what keeps it"."""
    if not rows:
        return []
    return [TITLE] + [f"  {holder_line(row)}" for row in rows]


def holders_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"### {TITLE}",
        "",
        f"_{NOTE}_",
        "",
        "| held by | root | type | entries/iteration | retained/iteration | allocated at |",
        "|---|---|---|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{_md(row['holder'])}` | {_md(row['root'])} | `{_md(row['type'])}` | "
            f"{row['entries_per_iteration']:.2f} | {format_size(row['retained_per_iteration'])} | "
            f"{'`' + _md(row['allocated_at']) + '`' if row.get('allocated_at') else '-'} |"
        )
    return "\n".join(lines) + "\n"


def holders_html(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<tr><td><code>{escape(row['holder'])}</code></td><td>{escape(row['root'])}</td>"
        f"<td><code>{escape(row['type'])}</code></td><td class=n>{row['entries_per_iteration']:.2f}</td>"
        f"<td class=n>{escape(format_size(row['retained_per_iteration']))}</td>"
        f"<td>{'<code>' + escape(row['allocated_at']) + '</code>' if row.get('allocated_at') else '-'}</td></tr>\n"
        for row in rows
    )
    headers = ("held by", "root", "type", "entries/iteration", "retained/iteration", "allocated at")
    return table_page("leakbench: held by", TITLE, NOTE, headers, body)


def write_holders(run_dir: Path, rows: list[dict[str, Any]] | None) -> None:
    """``holders.md`` and ``holders.html`` beside the summary, when a container was named."""
    write_pages(run_dir, rows, {MARKDOWN: holders_markdown, HTML: holders_html})


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")

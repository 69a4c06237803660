"""Who holds a Python leak, as text, markdown and HTML, from ``summary.holders``.

Rendered from the summary's rows, so ``leakbench report`` renders an old run
the same way; the rows themselves come from ``attribution/holders.py``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from leakbench.units import format_size

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
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>leakbench: held by</title>'
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border-bottom:1px solid #dde1e4;padding:.35em .6em;text-align:left;vertical-align:top}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}code{font:13px ui-monospace,monospace}</style></head>\n"
        f"<body><h1>{escape(TITLE)}</h1><p>{escape(NOTE)}.</p>\n<table><thead><tr><th>held by</th><th>root</th>"
        "<th>type</th><th>entries/iteration</th><th>retained/iteration</th><th>allocated at</th></tr></thead>\n"
        f"<tbody>\n{body}</tbody></table></body></html>\n"
    )


def write_holders(run_dir: Path, rows: list[dict[str, Any]] | None) -> None:
    """``holders.md`` and ``holders.html`` beside the summary, when a container was named."""
    for name, render in ((MARKDOWN, holders_markdown), (HTML, holders_html)):
        path = Path(run_dir) / name
        try:
            if rows:
                path.write_text(render(rows))
            else:
                path.unlink(missing_ok=True)
        except OSError:  # a full disk costs these pages, never the verdict (summary.json has the rows)
            return


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")

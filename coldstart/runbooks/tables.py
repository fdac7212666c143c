"""What every report table and figure shares: an HTML table with a style per row, a figure shown as SVG, the
dry-run note, and the outcomes a runbook measured (without the skipped scenarios and dry runs)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from IPython.display import Markdown, display

from coldstart.runbooks.runbook import Outcome
from coldstart.runbooks.svg import Svg

__all__ = ["STYLE", "Outcomes", "dry", "measured", "show", "table"]

STYLE = {"pass": "color:#1b5e20", "fail": "color:#b71c1c;font-weight:bold", "n/a": "color:#757575"}


def show(figure: Svg) -> None:
    """Display a figure (image/svg+xml: Jupyter shows it, nbconvert embeds it in the HTML report)."""
    display(figure)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], styles: Sequence[str] | None = None) -> str:
    cell = "text-align:left;vertical-align:top;white-space:normal;overflow-wrap:break-word;"
    head = "".join(f"<th style='{cell}'>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = cell + (styles[i] if styles and styles[i] else "")
        body.append("<tr>" + "".join(f"<td style='{style}'>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return (f"<table class='coldstart' style='table-layout:auto;max-width:100%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")



def dry(outcome: Outcome | None) -> bool:
    if outcome is None or outcome.dry_run:
        display(Markdown("*Dry run (`apply = False`): nothing was applied, so nothing was measured.*"))
        return True
    return False



Outcomes = Outcome | Sequence[Outcome] | None


def measured(*groups: Outcomes) -> list[Outcome]:
    """Outcomes given one by one or in lists, without the skipped ones (None) and dry runs, in order."""
    flat: list[Outcome] = []
    for group in groups:
        flat += [group] if isinstance(group, Outcome) else list(group or [])
    return [o for o in flat if o is not None and not o.dry_run]

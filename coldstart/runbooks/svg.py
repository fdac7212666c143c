"""A small SVG canvas for the report's charts: horizontal bars on a seconds axis, labels, a legend.

Why not a plotting library: a report draws a handful of bars per figure. Importing and rasterizing with a
general plotting stack cost more than half of a rollout notebook's own run time (see benchmarks/runbook.py);
an SVG is a few kilobytes of text, stays sharp at any zoom, keeps its words searchable and carries a title
and, per bar, a tooltip with the exact seconds.

Text widths are estimated (the canvas cannot measure fonts): `CHAR` pixels per character of the 11 px sans
font, slightly generous so labels never overlap the bars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["CHAR", "Chart", "Svg", "nice_ticks"]

CHAR = 6.4  # estimated width of one character of the 11 px sans-serif font, in pixels
FONT = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class Svg:
    """A finished figure: its markup, size and title (what the figure says, for screen readers and alt text)."""

    markup: str
    width: int
    height: int
    title: str

    def _repr_svg_(self) -> str:  # what IPython's display() sends as image/svg+xml
        return self.markup


def nice_ticks(right: float, most: int = 8) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) from 0 to `right`, at most `most` of them."""
    right = max(right, 1e-9)
    raw = right / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(i * step, 9) for i in range(int(right / step + 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class Chart:
    """Rows of horizontal bars over an x axis in data units, a title, an axis label and a legend at the right.

    Coordinates of bars are in data units (seconds, GiB/s) and rows (0 at the top); the canvas maps them."""

    title: str
    xlabel: str
    labels: Sequence[str]
    right: float  # the largest data value drawn (a bar's end, a failure band's end)
    legend: Sequence[tuple[str, str, str]] = ()  # (kind: box|hatch|marker, color, label)
    row_height: float = 26.0
    width: float = 960.0
    notes: int = 6  # characters of note text to keep room for right of `right` (e.g. "96s")
    _body: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.left = 12 + CHAR * max([len(label) for label in self.labels] or [4])
        self.legend_width = (28 + CHAR * max(len(label) for _, _, label in self.legend)) if self.legend else 0.0
        # at least 420 pixels for the bars, after the room the notes need (the figure grows wider if need be)
        self.plot_width = max(self.width - self.left - self.legend_width - 24, 430 + CHAR * self.notes)
        self.width = self.left + self.plot_width + self.legend_width + 24
        self.span = self.plot_width - 10 - CHAR * self.notes  # pixels for 0..right
        self.right = max(self.right, 1e-9)
        self.edge = self.right * self.plot_width / self.span  # the data value at the plot's right edge
        self.top = 34.0
        rows = self.row_height * max(1, len(self.labels))
        self.height = self.top + max(rows, 18.0 * len(self.legend)) + 46

    def x(self, value: float) -> float:
        return self.left + self.span * max(0.0, value) / self.right

    def y(self, row: float) -> float:
        """The centre line of `row`."""
        return self.top + self.row_height * (row + 0.5)

    def bar(self, row: float, start: float, seconds: float, color: str, tip: str, *, thickness: float = 0.5,
            offset: float = 0.0, min_width: float = 0.0) -> None:
        """A bar from `start` for `seconds` (at least `min_width` data units wide) with a hover tooltip."""
        x0, x1 = self.x(start), self.x(start + max(seconds, min_width))
        height = self.row_height * thickness
        y = self.y(row) - height / 2 + self.row_height * offset
        self._body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.5):.1f}" height="{height:.1f}" '
                          f'fill="{color}" stroke="white" stroke-width="0.5"><title>{escape(tip)}</title></rect>')

    def hatched(self, row: float, start: float, end: float, tip: str) -> None:
        """Where something never happened (a replica never ready): a red hatched band, not a short bar."""
        x0, x1 = self.x(start), self.x(end)
        height = self.row_height * 0.5
        self._body.append(f'<rect x="{x0:.1f}" y="{self.y(row) - height / 2:.1f}" width="{max(x1 - x0, 2):.1f}" '
                          f'height="{height:.1f}" fill="url(#hatch)" stroke="#b71c1c" stroke-width="0.8">'
                          f"<title>{escape(tip)}</title></rect>")

    def marker(self, row: float, at: float, color: str, tip: str) -> None:
        """A small downward triangle above the row at `at` (a restart, a kill, an OOM)."""
        x, y = self.x(at), self.y(row) - self.row_height * 0.38
        self._body.append(f'<polygon points="{x - 4:.1f},{y - 5:.1f} {x + 4:.1f},{y - 5:.1f} {x:.1f},{y + 2:.1f}" '
                          f'fill="{color}"><title>{escape(tip)}</title></polygon>')

    def note(self, row: float, at: float, text: str, *, color: str = "#212121", bold: bool = False) -> None:
        """Text to the right of `at` on `row` (the seconds after a bar, a failure's reason)."""
        weight = ";font-weight:bold" if bold else ""
        self._body.append(f'<text x="{self.x(at) + 4:.1f}" y="{self.y(row) + 4:.1f}" fill="{color}" '
                          f'style="font-size:11px{weight}">{escape(text)}</text>')

    def render(self) -> Svg:
        """The figure: frame, grid and ticks, row labels, the bars drawn so far, axis label, title, legend."""
        width, height = int(self.width), int(self.height)
        bottom = self.top + self.row_height * max(1, len(self.labels))
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(self.title)}" style="{FONT}">',
                 f"<title>{escape(self.title)}</title>",
                 '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
                 'patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/>'
                 '<line x1="0" y1="0" x2="0" y2="6" stroke="#b71c1c" stroke-width="1.5"/></pattern></defs>',
                 f'<rect width="{width}" height="{height}" fill="white"/>',
                 f'<text x="{self.left + self.plot_width / 2:.1f}" y="20" text-anchor="middle" '
                 f'style="font-size:13px">{escape(self.title)}</text>']
        for tick in nice_ticks(self.edge):
            x = self.x(tick)
            parts.append(f'<line x1="{x:.1f}" y1="{self.top}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#e0e0e0"/>')
            parts.append(f'<text x="{x:.1f}" y="{bottom + 14:.1f}" text-anchor="middle" fill="#424242" '
                         f'style="font-size:10px">{_number(tick)}</text>')
        parts.append(f'<rect x="{self.left:.1f}" y="{self.top}" width="{self.plot_width:.1f}" '
                     f'height="{bottom - self.top:.1f}" fill="none" stroke="#9e9e9e"/>')
        for row, label in enumerate(self.labels):
            parts.append(f'<text x="{self.left - 6:.1f}" y="{self.y(row) + 4:.1f}" text-anchor="end" '
                         f'style="font-size:11px">{escape(label)}</text>')
        parts += self._body
        parts.append(f'<text x="{self.left + self.plot_width / 2:.1f}" y="{bottom + 32:.1f}" text-anchor="middle" '
                     f'style="font-size:11px">{escape(self.xlabel)}</text>')
        parts += self._legend(self.left + self.plot_width + 16)
        parts.append("</svg>")
        return Svg("".join(parts), width, height, self.title)

    def _legend(self, x: float) -> list[str]:
        out = []
        for i, (kind, color, label) in enumerate(self.legend):
            y = self.top + 4 + 18 * i
            if kind == "marker":
                out.append(f'<polygon points="{x + 2},{y + 2} {x + 12},{y + 2} {x + 7},{y + 10}" fill="{color}"/>')
            else:
                fill = "url(#hatch)" if kind == "hatch" else color
                stroke = f' stroke="{color}"' if kind == "hatch" else ""
                out.append(f'<rect x="{x}" y="{y}" width="14" height="11" fill="{fill}"{stroke}/>')
            out.append(f'<text x="{x + 20}" y="{y + 10}" style="font-size:11px">{escape(label)}</text>')
        return out

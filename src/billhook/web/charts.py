"""Small SVG charts, drawn on the server: no script, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD, AXIS = 640, 220, 24, 28
STATUS_COLOURS = {
    "draft": "#9aa5b1",
    "issuing": "#7b8794",
    "issued": "#3e7cb1",
    "payment_processing": "#f0b429",
    "overdue": "#e12d39",
    "paid": "#27ab83",
    "uncollectible": "#8d2b0b",
    "voided": "#52606d",
}


def _frame(body: str, title: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def bars(points: Sequence[tuple[str, Decimal]], title: str, unit: str = "") -> Markup:
    """One bar per label, labelled with its value."""
    if not points:
        return _frame(f'<text x="{PAD}" y="{HEIGHT // 2}" class="empty">nothing invoiced yet</text>', title)
    top = max((v for _, v in points), default=Decimal(0)) or Decimal(1)
    slot = (WIDTH - 2 * PAD) / len(points)
    out = []
    for i, (label, value) in enumerate(points):
        h = float(value / top) * (HEIGHT - PAD - AXIS - 14)
        x = PAD + i * slot + slot * 0.15
        y = HEIGHT - AXIS - h
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {escape(unit)} {value}</title></rect>"
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" class="value">{value}</text>'
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - AXIS + 16}" class="label">{escape(label)}</text>'
        )
    return _frame("".join(out), title)


def stacked(points: Sequence[tuple[str, dict[str, int]]], title: str) -> Markup:
    """One stacked bar per label, one segment per status."""
    if not points:
        return _frame(f'<text x="{PAD}" y="{HEIGHT // 2}" class="empty">no invoices yet</text>', title)
    top = max(sum(c.values()) for _, c in points) or 1
    slot = (WIDTH - 2 * PAD - 150) / len(points)
    out = []
    for i, (label, counts) in enumerate(points):
        x = PAD + i * slot + slot * 0.15
        y = float(HEIGHT - AXIS)
        for status, colour in STATUS_COLOURS.items():
            n = counts.get(status, 0)
            if not n:
                continue
            h = n / top * (HEIGHT - PAD - AXIS)
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(label)}: {n} {escape(status)}</title></rect>"
            )
        out.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - AXIS + 16}" class="label">{escape(label)}</text>')
    legend_x = WIDTH - 150
    for j, (status, colour) in enumerate(STATUS_COLOURS.items()):
        out.append(
            f'<rect x="{legend_x}" y="{PAD + j * 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="{PAD + j * 18 + 9}" class="legend">{status}</text>'
        )
    return _frame("".join(out), title)

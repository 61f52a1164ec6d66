"""Charts drawn on the server as inline SVG: no chart library, no script, nothing fetched.

Colours come from CSS classes (console.css), so the strict Content-Security-Policy (no inline styles) holds.
Every chart has a <title> and a text description for screen readers; the numbers are also in a table on the page.
"""
from __future__ import annotations

import math

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 10, 14, 30
HBAR_WIDTH = 460


def _nice_max(value: float) -> int:
    """A round top for the axis, even so that the middle line is a whole number too."""
    if value <= 10:
        top = math.ceil(value)
        return max(2, top + top % 2)
    step = 10 ** (len(str(int(value))) - 1)
    for mult in (1, 2, 4, 5, 10):
        if value <= step * mult:
            return int(step * mult)
    return int(value)


def _mirror(rtl: bool, width: float):
    """x of a box (x, w) as drawn: in a right-to-left page time and bars run from the right edge."""
    return (lambda x, w=0.0: width - x - w) if rtl else (lambda x, w=0.0: x)


def _anchor(rtl: bool, anchor: str) -> str:
    """The anchor of a left-to-right text (a number) drawn in a mirrored chart."""
    return {"start": "end", "end": "start"}.get(anchor, anchor) if rtl else anchor


def bars(labels: list[str], series: list[tuple[str, list[float | None]]], title: str, *,
         label_every: int = 1, number=str, empty_text: str = "", hidden_text: str = "", rtl: bool = False) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (class s0, s1, ...).

    A None value (a suppressed cell) is drawn as a hatched stub and described as hidden_text. With rtl, the chart
    is mirrored (first label at the right, the axis on the right) and its texts run right to left, so an Arabic
    sentence ends with its full stop on the left; the glyphs themselves are never mirrored.
    """
    mx = _mirror(rtl, WIDTH)
    n = max(len(labels), 1)
    top = max([v for _, values in series for v in values if v is not None] + [0])
    ymax = _nice_max(top)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    group_w = plot_w / n
    bar_w = max(1.0, group_w * 0.8 / max(len(series), 1))
    direction = "rtl" if rtl else "ltr"
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg" direction="{direction}">', f"<title>{escape(title)}</title>"]
    for frac in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - frac)
        out.append(f'<line class="grid" x1="{mx(PAD_LEFT)}" x2="{mx(WIDTH - PAD_RIGHT)}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="axis" x="{mx(PAD_LEFT - 6)}" y="{y + 4:.1f}" direction="ltr" '
                   f'text-anchor="{_anchor(rtl, "end")}">{escape(number(int(ymax * frac)))}</text>')
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[i] if i < len(values) else 0
            x = x0 + s * bar_w
            if value is None:
                out.append(f'<rect class="hidden-cell" x="{mx(x, bar_w):.1f}" y="{PAD_TOP + plot_h - 6:.1f}" '
                           f'width="{bar_w:.1f}" height="6"><title>{escape(label)} · {escape(name)}: '
                           f"{escape(hidden_text)}</title></rect>")
                continue
            h = plot_h * value / ymax if ymax else 0
            out.append(f'<rect class="s{s}" x="{mx(x, bar_w):.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}"><title>{escape(label)} · {escape(name)}: {escape(number(value))}'
                       f"</title></rect>")
        if i % label_every == 0:
            cx = mx(PAD_LEFT + (i + 0.5) * group_w)
            out.append(f'<text class="axis" x="{cx:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle">'
                       f"{escape(label)}</text>")
    if top == 0 and empty_text:
        out.append(f'<text class="empty" x="{WIDTH / 2}" y="{PAD_TOP + plot_h / 2}" text-anchor="middle">'
                   f"{escape(empty_text)}</text>")
    out.append("</svg>")
    return Markup("".join(out))


def hbars(items: list[tuple[str, int]], title: str, *, number=str, rtl: bool = False) -> Markup:
    """Horizontal bars, one per item (the outbox by state), the label before each; with rtl, labels on the right
    and bars growing to the left."""
    mx = _mirror(rtl, HBAR_WIDTH)
    height = 26 * max(len(items), 1) + 8
    top = max([v for _, v in items] + [1])
    direction = "rtl" if rtl else "ltr"
    out = [f'<svg class="chart hbars" viewBox="0 0 {HBAR_WIDTH} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg" direction="{direction}">', f"<title>{escape(title)}</title>"]
    label_w = 120
    for i, (label, value) in enumerate(items):
        y = 4 + i * 26
        w = (HBAR_WIDTH - label_w - 60) * value / top
        # the label's direction follows the page, which already turns "end" to the left edge in rtl
        out.append(f'<text class="axis" x="{mx(label_w - 8)}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect class="s{i % 6} state-bar" x="{mx(label_w, w):.1f}" y="{y}" width="{w:.1f}" height="20">'
                   f"<title>{escape(label)}: {escape(number(value))}</title></rect>")
        out.append(f'<text class="value" x="{mx(label_w + w + 6):.1f}" y="{y + 15}" '
                   f'text-anchor="{_anchor(rtl, "start")}" direction="ltr">{escape(number(value))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def shares(items: list[tuple[str, int | None, float | None]], title: str, *, rtl: bool = False, number=str,
           hidden_text: str = "") -> Markup:
    """Horizontal bars of the share of each answer (label, count, percent), labels on the reading side: in a
    right-to-left page the labels are on the right and the bars grow leftwards. A None count is hidden."""
    width, label_w, row_h = 640, 200, 28
    height = row_h * max(len(items), 1) + 8
    span = width - label_w - 90
    # text runs in the page's direction, so "25 إلى 44" keeps its order; with direction="rtl" an anchor of
    # "start" is the right edge of the text
    out = [f'<svg class="chart shares" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg" direction="{"rtl" if rtl else "ltr"}">',
           f"<title>{escape(title)}</title>"]
    for i, (label, count, percent) in enumerate(items):
        y = 4 + i * row_h
        w = span * (percent or 0) / 100
        shown = hidden_text if count is None else number(count) if percent is None else \
            f"{number(count)} · {number(percent)}%"
        label_x, bar_x, value_x = (width - 8, width - label_w - w, width - label_w - w - 6) if rtl else \
            (label_w - 8, label_w, label_w + w + 6)
        anchor_label, anchor_value = ("start", "start") if rtl else ("end", "start")
        out.append(f'<text class="axis" x="{label_x:.1f}" y="{y + 17}" text-anchor="{anchor_label}">'
                   f"{escape(label)}</text>")
        if count is None:
            stub_x = width - label_w - 6 if rtl else label_w
            out.append(f'<rect class="hidden-cell" x="{stub_x:.1f}" y="{y + 4}" width="6" height="16">'
                       f"<title>{escape(label)}: {escape(hidden_text)}</title></rect>")
            value_x = stub_x - 6 if rtl else stub_x + 12
        else:
            out.append(f'<rect class="s{i % 6}" x="{bar_x:.1f}" y="{y + 2}" width="{w:.1f}" height="20">'
                       f"<title>{escape(label)}: {escape(shown)}</title></rect>")
        out.append(f'<text class="value" x="{value_x:.1f}" y="{y + 17}" text-anchor="{anchor_value}">'
                   f"{escape(shown)}</text>")
    out.append("</svg>")
    return Markup("".join(out))

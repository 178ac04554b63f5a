"""Charts drawn on the server as inline SVG (no chart library, no script): coverage bars with the target
line, and a 12-month trend line. Sized in a 360-unit-wide viewBox so they read 1:1 on a phone, scale up on a
desktop and print as vectors; every figure is also in the table next to it."""

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 360
BRAND = "#0b5d4b"
BELOW = "#a4161a"
GRID = "#c9d1ce"
INK = "#1a1a1a"
MUTED = "#4d4d4d"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def coverage_bars(
    rows: Sequence[tuple[str, float | None]],
    target: float,
    *,
    title: str,
    target_label: str,
    empty_label: str,
) -> Markup:
    """One horizontal bar per place (label, coverage 0–1 or None when nothing fell due), a dashed line at the
    target; bars under the target are drawn red. Values above 100% (data anomalies) are drawn at 100%."""
    label_w, left, right, row_h, top = 92, 96, 310, 24, 22
    height = top + row_h * max(len(rows), 1) + 6
    span = right - left

    def x(v: float) -> float:
        return left + span * min(max(v, 0.0), 1.0)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        short = label if len(label) <= 7 else label[:6] + "…"
        parts.append(
            f'<text x="{label_w}" y="{y + 15}" text-anchor="end" fill="{INK}">{escape(short)}</text>'
        )
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="{row_h - 8}" fill="#eef2f0"/>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 15}" fill="{MUTED}">{escape(empty_label)}</text>')
            continue
        colour = BELOW if value < target else BRAND
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{x(value) - left:.1f}" height="{row_h - 8}" '
            f'fill="{colour}">'
            f"<title>{escape(label)} {_pct(value)}</title></rect>"
        )
        parts.append(f'<text x="{right + 4}" y="{y + 15}" fill="{colour}">{_pct(value)}</text>')
    tx = x(target)
    parts.append(
        f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - 4}" stroke="{INK}" '
        f'stroke-width="1.5" stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<text x="{tx:.1f}" y="{top - 8}" text-anchor="middle" fill="{INK}">{escape(target_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every label and title went through escape())


def trend_line(
    points: Sequence[tuple[str, float | None]], target: float, *, title: str, target_label: str
) -> Markup:
    """Coverage month by month (label, 0–1 or None), oldest first, with the target as a dashed line; the
    line breaks where a month had nothing due."""
    left, right, top, bottom, height = 36, 350, 14, 150, 176
    n = max(len(points), 1)
    step = (right - left) / max(n - 1, 1)

    def y(v: float) -> float:
        return bottom - (bottom - top) * min(max(v, 0.0), 1.0)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for v in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{right}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_pct(v)}</text>'
        )
    ty = y(target)
    parts.append(
        f'<line x1="{left}" y1="{ty:.1f}" x2="{right}" y2="{ty:.1f}" stroke="{INK}" stroke-width="1.2" '
        f'stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<text x="{right}" y="{ty - 4:.1f}" text-anchor="end" fill="{INK}">{escape(target_label)}</text>'
    )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (label, value) in enumerate(points):
        px = left + i * step
        if i % 2 == (n - 1) % 2:  # every other month, always the last, so labels never collide at 360 px
            parts.append(
                f'<text x="{px:.1f}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(label)}</text>"
            )
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{px:.1f},{y(value):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{BRAND}" stroke-width="2.5"/>')
    for i, (label, value) in enumerate(points):
        if value is None:
            continue
        colour = BELOW if value < target else BRAND
        parts.append(
            f'<circle cx="{left + i * step:.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}">'
            f"<title>{escape(label)} {_pct(value)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every label and title went through escape())

"""A small SVG plot for bench/load.py, with no plotting library: latency of every
operation over time (log scale, one colour per operation) above the resident memory of
each process over time."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
WIDTH, PANEL, LEFT, TOP, GAP = 900, 260, 70, 40, 70


def plot(
    path: Path,
    samples: list[tuple[float, str, float, str]],
    rss: dict[str, list[tuple[float, float]]],
    *,
    title: str,
    marks: list[tuple[float, str]],
) -> None:
    end = max([t for t, *_ in samples] + [t for points in rss.values() for t, _ in points] + [1])
    inner = WIDTH - LEFT - 160
    out: list[str] = []

    def x(t: float) -> float:
        return LEFT + inner * t / end

    height = TOP + 2 * PANEL + GAP + 50
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
    )
    out.append(f'<rect width="{WIDTH}" height="{height}" fill="white"/>')
    out.append(f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>')

    # Latency panel, log scale from 1 ms to the slowest.
    ok = [(t, op, s) for t, op, s, outcome in samples if outcome == "ok" and s > 0]
    errors = [(t, op) for t, op, _s, outcome in samples if outcome not in ("ok", "busy")]
    ops = sorted({op for _, op, _ in ok} | {op for _, op in errors})
    top_ms = max([s * 1000 for *_, s in ok] + [10])
    lo, hi = 0.0, math.log10(top_ms) + 0.1
    y0 = TOP

    def y_lat(ms: float) -> float:
        return y0 + PANEL - PANEL * (math.log10(max(ms, 1)) - lo) / (hi - lo)

    _axes(out, y0, end, x)
    for decade in range(int(hi) + 1):
        y = y_lat(10**decade)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{10**decade:g} ms</text>'
        )
    for i, op in enumerate(ops):
        colour = COLOURS[i % len(COLOURS)]
        for t, o, s in ok:
            if o == op:
                out.append(
                    f'<circle cx="{x(t):.1f}" cy="{y_lat(s * 1000):.1f}" r="1.6" fill="{colour}" '
                    'fill-opacity="0.6"/>'
                )
        ly = y0 + 12 + 14 * i
        out.append(
            f'<rect x="{LEFT + inner + 12}" y="{ly - 8}" width="9" height="9" fill="{colour}"/>'
        )
        out.append(f'<text x="{LEFT + inner + 26}" y="{ly}">{escape(op)}</text>')
    for t, _op in errors:
        out.append(
            f'<text x="{x(t):.1f}" y="{y0 + PANEL - 2}" fill="red" text-anchor="middle">x</text>'
        )
    out.append(
        f'<text x="{LEFT}" y="{y0 - 6}">latency per operation (log scale); red x: error</text>'
    )

    # Memory panel.
    y1 = TOP + PANEL + GAP
    top_mib = max([v for points in rss.values() for _, v in points] + [1]) * 1.1

    def y_mem(v: float) -> float:
        return y1 + PANEL - PANEL * v / top_mib

    _axes(out, y1, end, x)
    step = _nice(top_mib / 5)
    v = 0.0
    while v <= top_mib:
        y = y_mem(v)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g} MiB</text>')
        v += step
    for i, (name, points) in enumerate(sorted(rss.items())):
        colour = COLOURS[i % len(COLOURS)]
        line = " ".join(f"{x(t):.1f},{y_mem(value):.1f}" for t, value in points)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        ly = y1 + 12 + 14 * i
        out.append(
            f'<rect x="{LEFT + inner + 12}" y="{ly - 8}" width="9" height="9" fill="{colour}"/>'
        )
        out.append(f'<text x="{LEFT + inner + 26}" y="{ly}">{escape(name)}</text>')
    out.append(f'<text x="{LEFT}" y="{y1 - 6}">resident memory (VmRSS) per process</text>')

    for t, label in marks:
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{y1 + PANEL}" '
            'stroke="red" stroke-dasharray="4,3"/>'
        )
        out.append(f'<text x="{x(t) + 3:.1f}" y="{TOP + 10}" fill="red">{escape(label)}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def _axes(out: list[str], y: float, end: float, x: object) -> None:
    assert callable(x)
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{y}" y2="{y + PANEL}" stroke="black"/>')
    out.append(
        f'<line x1="{LEFT}" x2="{x(end):.1f}" y1="{y + PANEL}" y2="{y + PANEL}" stroke="black"/>'
    )
    step = _nice(end / 8)
    t = 0.0
    while t <= end:
        out.append(f'<text x="{x(t):.1f}" y="{y + PANEL + 14}" text-anchor="middle">{t:g} s</text>')
        t += step


def _nice(raw: float) -> float:
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return 10.0 * power

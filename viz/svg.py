"""A very small SVG drawing kit for the app's views: shapes, text, line-chart axes.

Drawing a view as SVG text takes a few milliseconds (matplotlib took 150-600 ms a figure),
which keeps the app interactive while it plays, and the text stays sharp on a projector.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

FONT = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif"
# ColorBrewer YlOrRd (9 classes), interpolated for continuous values.
YLORRD = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
          "#bd0026", "#800026")


def ramp(v: float, colours=YLORRD) -> str:
    """A colour for v in [0, 1] on a sequential ramp."""
    v = 0.0 if not np.isfinite(v) else min(1.0, max(0.0, float(v)))
    pos = v * (len(colours) - 1)
    k = min(int(pos), len(colours) - 2)
    f = pos - k
    a = [int(colours[k][i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(colours[k + 1][i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def _attrs(kw: dict) -> str:
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        k = {"cls": "class"}.get(k, k.rstrip("_").replace("_", "-"))
        if isinstance(v, float):
            v = f"{v:.2f}".rstrip("0").rstrip(".")
        out.append(f'{k}="{escape(str(v), quote=True)}"')
    return " ".join(out)


class Svg:
    """An SVG document built up from parts; ``bytes()`` gives the file."""

    def __init__(self, width: float, height: float, css: str = ""):
        self.width, self.height = width, height
        self.parts: list[str] = []
        self.defs: list[str] = []
        self.css = css

    def add(self, raw: str) -> None:
        self.parts.append(raw)

    def rect(self, x, y, w, h, **kw) -> None:
        self.add(f"<rect {_attrs(dict(x=float(x), y=float(y), width=float(max(w, 0)), height=float(max(h, 0)), **kw))}/>")

    def line(self, x1, y1, x2, y2, **kw) -> None:
        self.add(f"<line {_attrs(dict(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **kw))}/>")

    def circle(self, cx, cy, r, **kw) -> None:
        self.add(f"<circle {_attrs(dict(cx=float(cx), cy=float(cy), r=float(r), **kw))}/>")

    def path(self, d: str, **kw) -> None:
        self.add(f"<path {_attrs(dict(d=d, **kw))}/>")

    def polyline(self, xs, ys, **kw) -> None:
        """A line through the points, broken where a value is missing (NaN)."""
        run: list[str] = []
        for x, y in zip(xs, ys, strict=True):
            if np.isfinite(x) and np.isfinite(y):
                run.append(f"{x:.1f},{y:.1f}")
            elif run:
                self._poly(run, kw)
                run = []
        if run:
            self._poly(run, kw)

    def _poly(self, run, kw):
        if len(run) == 1:
            x, y = run[0].split(",")
            self.circle(float(x), float(y), 1.5, fill=kw.get("stroke", "#000"))
        else:
            self.add(f'<polyline points="{" ".join(run)}" fill="none" {_attrs(kw)}/>')

    def text(self, x, y, s: str, size: float = 12, anchor: str = "start", weight=None,
             fill="#222", **kw) -> None:
        self.add(f"<text {_attrs(dict(x=float(x), y=float(y), font_size=size, text_anchor=anchor, font_weight=weight, fill=fill, **kw))}>"
                 f"{escape(s)}</text>")

    def __bytes__(self) -> bytes:
        css = f"text{{font-family:{FONT}}}" + self.css
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width:.0f} '
                f'{self.height:.0f}" width="{self.width:.0f}" height="{self.height:.0f}">'
                f"<style>{css}</style>{defs}"
                f'<rect width="100%" height="100%" fill="#ffffff"/>{"".join(self.parts)}</svg>'
                ).encode()


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About n round tick values covering [lo, hi]."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def tick_label(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:g}"


class Axes:
    """A line-chart panel: data -> pixel mapping, gridlines, tick labels, title."""

    def __init__(self, svg: Svg, x: float, y: float, w: float, h: float,
                 xlim: tuple[float, float], ylim: tuple[float, float]):
        self.svg, self.x, self.y, self.w, self.h = svg, x, y, w, h
        self.xlim = xlim
        lo, hi = ylim
        if not np.isfinite(hi) or hi <= lo:
            hi = lo + 1.0
        self.yticks = nice_ticks(lo, hi)
        self.ylim = (min(lo, self.yticks[0]), max(hi, self.yticks[-1]))

    def px(self, v):
        a, b = self.xlim
        return self.x + (np.asarray(v, float) - a) / (b - a) * self.w

    def py(self, v):
        a, b = self.ylim
        return self.y + self.h - (np.asarray(v, float) - a) / (b - a) * self.h

    def frame(self, xticks: list[tuple[float, str]], ylabel: str = "") -> None:
        s = self.svg
        for t in self.yticks:
            yy = float(self.py(t))
            s.line(self.x, yy, self.x + self.w, yy, stroke="#e3e3e3", stroke_width=1)
            s.text(self.x - 5, yy + 4.5, tick_label(t), size=12.5, anchor="end", fill="#444")
        s.line(self.x, self.y + self.h, self.x + self.w, self.y + self.h, stroke="#888")
        s.line(self.x, self.y, self.x, self.y + self.h, stroke="#888")
        for xv, lab in xticks:
            xx = float(self.px(xv))
            if self.x - 1 <= xx <= self.x + self.w + 1:
                s.line(xx, self.y + self.h, xx, self.y + self.h + 4, stroke="#888")
                s.text(xx, self.y + self.h + 17, lab, size=12.5, anchor="middle", fill="#444")
        if ylabel:
            s.text(self.x, self.y - 6, ylabel, size=12.5, fill="#555")

    def line(self, xs, ys, colour: str, width: float = 2.2, dash: str | None = None) -> None:
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
        ys = np.clip(ys, self.ylim[0], self.ylim[1])
        self.svg.polyline(self.px(xs), self.py(ys), stroke=colour, stroke_width=width,
                          stroke_dasharray=dash, stroke_linejoin="round")

    def hline(self, v: float, colour: str, dash: str | None = "4 3", width=1.2,
              label: str = "") -> None:
        if not (self.ylim[0] <= v <= self.ylim[1]):
            return
        yy = float(self.py(v))
        self.svg.line(self.x, yy, self.x + self.w, yy, stroke=colour, stroke_dasharray=dash,
                      stroke_width=width)
        if label:
            self.hline_label(v, colour, label)

    def hline_label(self, v: float, colour: str, label: str) -> None:
        """A reference line's label: right end, under the line, with a white halo (draw it
        after the data so it stays readable)."""
        if not (self.ylim[0] <= v <= self.ylim[1]):
            return
        yy = float(self.py(v))
        self.svg.text(self.x + self.w - 3, yy + 13, label, size=12.5, fill=colour,
                      anchor="end", stroke="#ffffff", stroke_width=3, paint_order="stroke")

    def vline(self, v: float, colour: str, dash: str | None = "5 3", width=1.5,
              label: str = "") -> None:
        xx = float(self.px(v))
        if not (self.x - 1 <= xx <= self.x + self.w + 1):
            return
        self.svg.line(xx, self.y, xx, self.y + self.h, stroke=colour, stroke_dasharray=dash,
                      stroke_width=width)
        if label:
            self.svg.text(xx + 4, self.y + 12, label, size=12.5, fill=colour, weight="bold")

"""The report's plots: matplotlib figures rendered to SVG text, to be inlined in report.html.

No pyplot (no global figure state): each function builds a `Figure`, draws with the Agg-free SVG
backend and returns the `<svg>` element alone. Text stays text (`svg.fonttype: none`, a local
sans-serif), so the page needs no font file and its words can be searched; every id in an SVG is
salted with the plot's key, so several SVGs on one page never share a clip path.
Inputs are report.json figures: public labels and aggregate shares, never records.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display, ever; the SVG canvas below does the drawing

from matplotlib.figure import Figure  # noqa: E402

__all__ = ["REAL", "SYNTHETIC", "column_svg", "heatmap_svg", "histogram_svg", "stacked_bar_svg", "pair_bar_svg"]

REAL, SYNTHETIC = "#3b6ea8", "#e07b28"
STAGE_COLOURS = ("#5b8bc6", "#3b6ea8", "#9c6fb5", "#e07b28", "#2e8b57", "#b5a642", "#888888")
_MAX_BARS = 24
_RC: dict[Any, Any] = {"svg.fonttype": "none", "font.family": "sans-serif", "font.size": 8,
       "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"], "axes.spines.top": False,
       "axes.spines.right": False, "axes.titlesize": 9, "axes.titleweight": "bold", "axes.titlelocation": "left"}


def _svg(figure: Figure, key: str, title: str) -> str:
    """The figure as one `<svg>` element (no XML prolog), with a <title> for screen readers."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"synthgate-{key}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)  # RDF boilerplate
    salt = re.sub(r"[^A-Za-z0-9_-]", "_", key)
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{salt}-{m.group(1)}"', text)
    text = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{salt}-{m.group(2)}", text)
    title_text = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"(<svg[^>]*>)", lambda m: f'{m.group(1)}<title>{title_text}</title>', text, count=1)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), dpi=72)


def _short(label: str, n: int = 14) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def column_svg(key: str, name: str, labels: Sequence[str], real: Sequence[float], synthetic: Sequence[float], *,
               ordered: bool, subtitle: str = "") -> str:
    """Real vs synthetic shares of one column: steps for ordered bins, paired bars for categories
    (the largest `_MAX_BARS`, the rest summed into one bar)."""
    labels, real, synthetic = list(labels), list(real), list(synthetic)
    if not ordered and len(labels) > _MAX_BARS:
        keep = sorted(range(len(labels)), key=lambda i: -(real[i] + synthetic[i]))[: _MAX_BARS - 1]
        rest = [i for i in range(len(labels)) if i not in set(keep)]
        labels = [labels[i] for i in keep] + [f"{len(rest)} others"]
        real = [real[i] for i in keep] + [sum(real[i] for i in rest)]
        synthetic = [synthetic[i] for i in keep] + [sum(synthetic[i] for i in rest)]
    with matplotlib.rc_context(_RC):
        figure = _figure(3.3, 2.0)
        axes = figure.add_subplot()
        x = list(range(len(labels)))
        if ordered and len(labels) > 8:
            axes.fill_between(x, real, step="mid", color=REAL, alpha=0.35, label="real", linewidth=0)
            axes.step(x, real, where="mid", color=REAL, linewidth=1)
            axes.step(x, synthetic, where="mid", color=SYNTHETIC, linewidth=1.4, label="synthetic")
            step = max(1, len(labels) // 4)
            ticks = x[::step]
            axes.set_xticks(ticks, [_short(labels[i], 12) for i in ticks])
        else:
            width = 0.4
            axes.bar([i - width / 2 for i in x], real, width, color=REAL, label="real")
            axes.bar([i + width / 2 for i in x], synthetic, width, color=SYNTHETIC, label="synthetic")
            rotate = len(labels) > 4 or max((len(s) for s in labels), default=0) > 8
            axes.set_xticks(x, [_short(s) for s in labels], rotation=40 if rotate else 0,
                            ha="right" if rotate else "center")
        axes.set_ylabel("share of rows")
        axes.set_title(f"{name}{'  ' + subtitle if subtitle else ''}")
        axes.tick_params(labelsize=7)
    return _svg(figure, key, f"{name}: real and synthetic shares")


def heatmap_svg(key: str, title: str, labels: Sequence[str], matrix: Sequence[Sequence[float | None]], *,
                vmax: float | None = None, colourbar: str = "") -> str:
    """A square matrix (e.g. TVD per column pair), missing cells blank, values written in small tables."""
    import numpy as np

    values = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    n = len(labels)
    with matplotlib.rc_context(_RC):
        size = min(7.0, 1.6 + 0.32 * n)
        figure = _figure(size + 0.8, size)
        axes = figure.add_subplot()
        top = vmax if vmax is not None else (np.nanmax(values) if np.isfinite(values).any() else 1.0)
        image = axes.imshow(values, cmap="Oranges", vmin=0, vmax=max(float(top), 1e-9))
        axes.set_xticks(range(n), [_short(s, 12) for s in labels], rotation=60, ha="right", fontsize=7)
        axes.set_yticks(range(n), [_short(s, 12) for s in labels], fontsize=7)
        axes.spines[:].set_visible(False)
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    if np.isfinite(values[i, j]):
                        axes.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6,
                                  color="white" if values[i, j] > 0.6 * top else "#222")
        figure.colorbar(image, ax=axes, shrink=0.8, label=colourbar)
        axes.set_title(title)
    return _svg(figure, key, title)


def histogram_svg(key: str, title: str, edges: Sequence[float], series: dict[str, Sequence[float]], *,
                  xlabel: str) -> str:
    """Histograms on shared bin edges (counts or shares given per bin), one outline per series."""
    colours = [SYNTHETIC, REAL, "#2e8b57", "#888888"]
    with matplotlib.rc_context(_RC):
        figure = _figure(4.2, 2.3)
        axes = figure.add_subplot()
        for (name, values), colour in zip(series.items(), colours):
            total = sum(values) or 1.0
            axes.stairs([v / total for v in values], list(edges), label=name, color=colour, linewidth=1.4,
                        fill=name == next(iter(series)), alpha=0.35 if name == next(iter(series)) else 1.0)
        axes.set_xlabel(xlabel)
        axes.set_ylabel("share of rows")
        axes.set_title(title)
        axes.legend(fontsize=7, frameon=False)
    return _svg(figure, key, title)


def stacked_bar_svg(key: str, title: str, parts: Sequence[tuple[str, float]], *, unit: str,
                    capacity: float | None = None, width: float = 6.4) -> str:
    """One horizontal bar split into named parts (e.g. the run's spend by stage); `capacity` adds
    an unfilled remainder up to it (e.g. what is left of a lifetime budget)."""
    with matplotlib.rc_context(_RC):
        figure = _figure(width, 0.62)
        axes = figure.add_subplot()
        left = 0.0
        for (name, amount), colour in zip(parts, STAGE_COLOURS * 4):
            axes.barh(0, amount, left=left, color=colour, edgecolor="white", linewidth=0.8, height=0.8,
                      label=f"{name} {amount:.3g}")
            left += amount
        end = max(capacity or 0.0, left)
        if capacity is not None and capacity > left:
            axes.barh(0, capacity - left, left=left, color="#eeeeee", edgecolor="#bbbbbb", linewidth=0.6,
                      height=0.8, label=f"left {capacity - left:.3g}")
        axes.set_xlim(0, end if end > 0 else 1)
        axes.set_yticks([])
        axes.spines[["left"]].set_visible(False)
        axes.tick_params(labelsize=7)
        axes.set_title(title, fontsize=8)
        axes.legend(fontsize=7, frameon=False, ncols=min(5, len(parts) + 1), loc="upper center",
                    bbox_to_anchor=(0.5, -0.45), handlelength=1, columnspacing=1)
    return _svg(figure, key, title)


def pair_bar_svg(key: str, title: str, values: dict[str, float], *, xlabel: str,
                 colours: Sequence[str] = (REAL, SYNTHETIC), width: float = 4.2, limit: float | None = None) -> str:
    """Named values as horizontal bars (e.g. TSTR: trained on real vs trained on synthetic), with an
    optional dashed `limit` line (e.g. a gate threshold)."""
    with matplotlib.rc_context(_RC):
        figure = _figure(width, 0.55 + 0.2 * len(values))
        axes = figure.add_subplot()
        names = list(values)
        axes.barh(range(len(names)), [values[n] for n in names], color=[colours[i % len(colours)] for i in range(len(names))])
        if limit is not None:
            axes.axvline(limit, color="#9b2c2c", linestyle="--", linewidth=1)
        axes.set_yticks(range(len(names)), names)
        axes.invert_yaxis()
        for i, n in enumerate(names):
            axes.text(values[n], i, f" {values[n]:.3g}", va="center", fontsize=7)
        axes.set_xlabel(xlabel)
        axes.set_title(title)
    return _svg(figure, key, title)

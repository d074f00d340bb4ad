"""Figures of the paper: CAMs overlaid on images with their boxes (Figs. 1, 3, 4, 6, 7), and charts of the tables.

Rendering only: the maps and boxes come from :mod:`cam_lib.cam` and :mod:`cam_lib.boxes`. Figures are drawn on
``matplotlib.figure.Figure`` objects, never through pyplot, so importing or calling this module leaves the
process's matplotlib backend (a notebook kernel's inline backend included) as it was.

A figure can carry its caption inside the PNG (the standard ``Description`` text chunk, written in the same atomic
write as the image, so the two never disagree): :func:`save_figure` writes it, :func:`read_caption` reads it back
(the notebooks show it under the figure and ``results/README.md`` prints it).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .io import atomic_write_bytes

PRED_COLOR, GT_COLOR = "#00ff66", "#ff3333"


def _rect(box, color: str) -> Rectangle:
    x0, y0, x1, y1 = [float(v) for v in box]
    # inclusive pixel box -> the outline around those pixels
    return Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=color, linewidth=2)


def draw_cam(ax, image: torch.Tensor, cam_map: torch.Tensor | None = None, boxes=(), gt_boxes=(),
             title: str = "", alpha: float = 0.5) -> None:
    """Draw ``image (3, H, W)`` in [0, 1] with an optional CAM ``(H, W)`` in [0, 1] as a jet heatmap, predicted
    boxes in green and ground-truth boxes in red."""
    ax.imshow(image.detach().float().cpu().permute(1, 2, 0).clamp(0, 1).numpy())
    if cam_map is not None:
        ax.imshow(cam_map.detach().float().cpu().numpy(), cmap="jet", alpha=alpha, vmin=0, vmax=1)
    for b in gt_boxes:
        ax.add_patch(_rect(b, GT_COLOR))
    for b in boxes:
        ax.add_patch(_rect(b, PRED_COLOR))
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def box_key(fig, predicted: str = "box of the map at its threshold", truth: str = "ground truth") -> None:
    """The key of the boxes :func:`draw_cam` draws, below the panels: green the map's box, red the ground truth."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PRED_COLOR, lw=2, label=predicted), Line2D([], [], color=GT_COLOR, lw=2, label=truth)]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.02))


def save_figure(fig, path: str | Path, dpi: int = 110, caption: str | None = None) -> Path:
    """Save a matplotlib figure as PNG atomically; ``caption`` goes into the PNG's ``Description`` text chunk
    (read back by :func:`read_caption`). The PNG holds 256 colours, Floyd-Steinberg dithered (what pngquant does):
    maps over images take a third of the bytes of matplotlib's RGBA file with no visible change, so the executed
    notebooks that embed them stay small. The same figure gives the same bytes."""
    import io

    from PIL import Image, PngImagePlugin

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    with Image.open(buf) as im:
        rgba = im.convert("RGBA")
    rgb = Image.new("RGB", rgba.size, "white")
    rgb.paste(rgba, mask=rgba.getchannel("A"))
    palette = rgb.quantize(256, method=Image.Quantize.MEDIANCUT)
    small = rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    info = PngImagePlugin.PngInfo()
    if caption:
        info.add_itxt("Description", caption)   # UTF-8: captions hold symbols such as ">="
    out = io.BytesIO()
    small.save(out, format="png", optimize=True, pnginfo=info, dpi=(dpi, dpi))
    return atomic_write_bytes(path, out.getvalue())


def read_caption(path: str | Path) -> str:
    """The caption stored in a PNG by :func:`save_figure` (``""`` when it has none)."""
    from PIL import Image

    with Image.open(path) as im:
        return str(getattr(im, "text", {}).get("Description", ""))


def save_topk_overlay(path: str | Path, image: torch.Tensor, maps: torch.Tensor, boxes: torch.Tensor,
                      titles: list[str], gt_boxes=(), image_title: str | None = None,
                      caption: str | None = None) -> Path:
    """One row: the image with the first map's box, then each of the ``k`` maps ``(k, H, W)`` with its box.
    ``image_title``: the first panel's title (default: ``titles[0]``, the first map's)."""
    k = maps.shape[0]
    fig = Figure(figsize=(2.2 * (k + 1), 2.4))
    axes = fig.subplots(1, k + 1)
    draw_cam(axes[0], image, None, boxes[:1], gt_boxes, title=titles[0] if image_title is None else image_title)
    for i in range(k):
        draw_cam(axes[i + 1], image, maps[i], boxes[i:i + 1], gt_boxes, title=titles[i])
    box_key(fig)
    return save_figure(fig, path, caption=caption)


def class_names_or_indices(names: list[str] | None, classes) -> list[str]:
    return [names[int(c)] if names is not None and int(c) < len(names) else f"class {int(c)}" for c in classes]


def cam_grid(path: str | Path, images: torch.Tensor, maps: torch.Tensor | None, boxes: torch.Tensor | None,
             row_titles: list[str], titles: list[list[str]] | None = None, gt_boxes: list | None = None,
             caption: str | None = None) -> Path:
    """A grid: one row per method/model, one column per image. ``images (N, 3, H, W)``; ``maps (R, N, H, W)``
    (or None: images only, one row); ``boxes (R, N, 4)`` predicted boxes; ``gt_boxes[n]`` ground-truth boxes."""
    rows = 1 if maps is None else maps.shape[0]
    n = images.shape[0]
    fig = Figure(figsize=(2.0 * n, 2.2 * rows))
    axes = fig.subplots(rows, n, squeeze=False)
    for r in range(rows):
        for i in range(n):
            draw_cam(axes[r][i], images[i], None if maps is None else maps[r, i],
                     () if boxes is None else boxes[r, i:i + 1], () if gt_boxes is None else gt_boxes[i],
                     title=titles[r][i] if titles else "")
        axes[r][0].text(-0.08, 0.5, textwrap.fill(row_titles[r], 22), transform=axes[r][0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=8)   # wrapped: long names overlapped the next row
    if boxes is not None or gt_boxes is not None:
        box_key(fig)
    return save_figure(fig, path, caption=caption)


def bar_chart(path: str | Path, df, x: str, y: str, hue: str, title: str, xlabel: str | None = None,
              ylabel: str | None = None, caption: str | None = None) -> Path:
    """A seaborn bar chart of ``df`` (one bar per ``x`` and ``hue``), saved as PNG; axes labelled ``xlabel`` /
    ``ylabel`` (default: the column names), legend below the axes."""
    import seaborn as sns

    fig = Figure(figsize=(max(5.0, 0.9 * df[x].nunique() + 2), 3.4))
    ax = fig.subplots()
    sns.barplot(data=df, x=x, y=y, hue=hue, ax=ax, errorbar=None)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel if xlabel is not None else x)
    ax.set_ylabel(ylabel if ylabel is not None else y)
    ax.tick_params(axis="x", rotation=20)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f", fontsize=7)
    if ax.get_legend() is not None:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4, fontsize=8, frameon=False)
    return save_figure(fig, path, caption=caption)


def line_chart(path: str | Path, df, x: str, y: str, hue: str, title: str, xlabel: str | None = None,
               ylabel: str | None = None, refs: tuple = (), caption: str | None = None,
               limits: tuple[float, float] | None = None) -> Path:
    """A seaborn line chart (one line per ``hue``), legend to the right of the axes; ``refs``: horizontal
    reference lines ``(value, label)`` (e.g. chance); ``limits``: the vertical axis's range (a percentage: 0-100,
    so that a 2-point move looks like one, not like the axis starting at the data)."""
    import seaborn as sns

    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", ax=ax)
    if str(getattr(df[x], "dtype", "")).startswith("int"):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs: whole numbers
    for (value, label), style in zip(refs, _REF_STYLES):
        ax.axhline(value, label=label, **style)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel if xlabel is not None else x)
    ax.set_ylabel(ylabel if ylabel is not None else y)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_figure(fig, path, caption=caption)


_REF_STYLES = ({"color": "#555555", "linestyle": "--", "linewidth": 1.2},
               {"color": "#aa3377", "linestyle": ":", "linewidth": 1.5},
               {"color": "#228833", "linestyle": "-.", "linewidth": 1.2},
               {"color": "#ee7733", "linestyle": (0, (5, 1)), "linewidth": 1.2})


@dataclass
class Panel:
    """One panel of :func:`panel_chart`: horizontal bars of ``rows``, one bar per ``(item, series)``.

    ``rows``: dicts with ``item`` (the label on the vertical axis, e.g. a network), ``series`` (the legend entry,
    e.g. a metric), ``value`` (ours; NaN: no bar) and optionally ``low`` / ``high`` (its 95% interval, drawn as an
    error bar) and ``paper`` (the paper's value, drawn as a black diamond on the same bar). ``axis``: the
    horizontal axis's label, in words. ``refs``: vertical reference lines ``(value, label)`` (chance, baselines,
    the paper's fixed setting) listed in the legend."""

    rows: list[dict]
    axis: str
    refs: list[tuple[float, str]] = field(default_factory=list)
    title: str = ""
    limits: tuple[float, float] = (0.0, 100.0)


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def panel_chart(path: str | Path, panels: list[Panel], title: str = "", caption: str | None = None) -> Path:
    """Stacked panels of horizontal grouped bars (:class:`Panel`): our values with their 95% intervals, the paper's
    values as black diamonds, reference lines; each panel's legend below it, outside the bars. Quantities of
    different kinds (errors, accuracies, rates, thresholds) belong in different panels: each has its own axis."""
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    palette = colormaps["tab10"].colors
    panels = [p for p in panels if p.rows]
    if not panels:
        raise ValueError("panel_chart: nothing to draw (every panel is empty)")
    heights = []
    for p in panels:
        items = list(dict.fromkeys(r["item"] for r in p.rows))
        series = list(dict.fromkeys(r["series"] for r in p.rows))
        heights.append(0.75 + len(items) * (0.16 * len(series) + 0.12))
    longest = max(len(str(r["item"])) for p in panels for r in p.rows)
    fig = Figure(figsize=(8.5 + 0.05 * longest, sum(heights) + 0.3 * bool(title)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, p in zip(axes, panels):
        items = list(dict.fromkeys(r["item"] for r in p.rows))
        series = list(dict.fromkeys(r["series"] for r in p.rows))
        width = 0.8 / len(series)
        paper_drawn = False
        for j, name in enumerate(series):
            ys, xs, lows, highs, papers = [], [], [], [], []
            for r in p.rows:
                if r["series"] != name:
                    continue
                y = items.index(r["item"]) + (j - (len(series) - 1) / 2) * width
                if _finite(r.get("value")):
                    ys.append(y)
                    xs.append(float(r["value"]))
                    lo, hi = r.get("low"), r.get("high")
                    lows.append(max(0.0, xs[-1] - float(lo)) if _finite(lo) else 0.0)
                    highs.append(max(0.0, float(hi) - xs[-1]) if _finite(hi) else 0.0)
                if _finite(r.get("paper")):
                    papers.append((float(r["paper"]), y))
            if xs:
                ax.barh(ys, xs, height=width * 0.9, color=palette[j % len(palette)], label=name,
                        xerr=[lows, highs] if any(lows) or any(highs) else None,
                        error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"})
                span = p.limits[1] - p.limits[0]
                for x, y, hi in zip(xs, ys, highs):   # the value, right of its interval
                    ax.text(x + hi + 0.01 * span, y, f"{x:.1f}", va="center", fontsize=6.5, zorder=6,
                            bbox={"facecolor": "white", "alpha": 0.7, "pad": 0.3, "linewidth": 0})
            if papers:
                ax.scatter([x for x, _ in papers], [y for _, y in papers], marker="D", s=16, color="black",
                           zorder=5, label=None if paper_drawn else "paper")
                paper_drawn = True
        for (value, label), style in zip(p.refs, _REF_STYLES):
            if _finite(value):
                ax.axvline(float(value), label=label, zorder=4, **style)
        ax.set_yticks(range(len(items)), [str(i) for i in items], fontsize=8)
        ax.set_ylim(len(items) - 0.5, -0.5)          # first item on top
        lo, hi = p.limits
        ax.set_xlim(lo, hi + 0.08 * (hi - lo))          # room for the labels of full bars
        ax.set_xticks([x for x in MaxNLocator(6).tick_values(lo, hi) if lo <= x <= hi])
        ax.set_xlabel(p.axis, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        if p.title:
            ax.set_title(p.title, fontsize=9, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, caption=caption)


__all__ = ["line_chart", "draw_cam", "save_figure", "read_caption", "save_topk_overlay", "class_names_or_indices",
           "cam_grid", "bar_chart", "Panel", "panel_chart"]

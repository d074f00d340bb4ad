"""Figures of the paper: CAMs overlaid on images with their boxes (Figs. 1, 3, 4, 6, 7).

Rendering only: the maps and boxes come from :mod:`cam_lib.cam` and :mod:`cam_lib.boxes`. Figures are drawn on
``matplotlib.figure.Figure`` objects, never through pyplot, so importing or calling this module leaves the
process's matplotlib backend (a notebook kernel's inline backend included) as it was.
"""

from __future__ import annotations

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


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def save_topk_overlay(path: str | Path, image: torch.Tensor, maps: torch.Tensor, boxes: torch.Tensor,
                      titles: list[str], gt_boxes=()) -> Path:
    """One row: the image with the top-1 box, then each of the ``k`` maps ``(k, H, W)`` with its box."""
    k = maps.shape[0]
    fig = Figure(figsize=(2.2 * (k + 1), 2.4))
    axes = fig.subplots(1, k + 1)
    draw_cam(axes[0], image, None, boxes[:1], gt_boxes, title=titles[0])
    for i in range(k):
        draw_cam(axes[i + 1], image, maps[i], boxes[i:i + 1], gt_boxes, title=titles[i])
    return save_figure(fig, path)


def class_names_or_indices(names: list[str] | None, classes) -> list[str]:
    return [names[int(c)] if names is not None and int(c) < len(names) else f"class {int(c)}" for c in classes]


def cam_grid(path: str | Path, images: torch.Tensor, maps: torch.Tensor | None, boxes: torch.Tensor | None,
             row_titles: list[str], titles: list[list[str]] | None = None, gt_boxes: list | None = None) -> Path:
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
        axes[r][0].text(-0.08, 0.5, row_titles[r], transform=axes[r][0].transAxes, rotation=90, va="center",
                        ha="right", fontsize=9)
    return save_figure(fig, path)


def bar_chart(path: str | Path, df, x: str, y: str, hue: str, title: str) -> Path:
    """A seaborn bar chart of ``df`` (one bar per ``x`` and ``hue``), saved as PNG."""
    import seaborn as sns

    fig = Figure(figsize=(max(5.0, 0.9 * df[x].nunique() + 2), 3.4))
    ax = fig.subplots()
    sns.barplot(data=df, x=x, y=y, hue=hue, ax=ax)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", rotation=20)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f", fontsize=7)
    return save_figure(fig, path)


def line_chart(path: str | Path, df, x: str, y: str, hue: str, title: str) -> Path:
    """A seaborn line chart (one line per ``hue``), saved as PNG."""
    import seaborn as sns

    fig = Figure(figsize=(6, 3.4))
    ax = fig.subplots()
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", ax=ax)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


__all__ = ["line_chart", "draw_cam", "save_figure", "save_topk_overlay", "class_names_or_indices", "cam_grid", "bar_chart"]

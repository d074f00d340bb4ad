"""Results a user can cite: the paper's published numbers (Tables 1-5), our tables beside them, and the generated
``results/README.md`` that says, for each claim of the paper, whether this run shows the same direction.

Every table is written twice, atomically: ``results/tables/tableN.csv`` (read it with
``pandas.read_csv(path, comment="#")``: the header lines start with ``#``) and ``tableN.md``; both carry the
header of :func:`cam_lib.series.setups.environment` (data, profile, hardware, versions, seed, commit). Values are
percentages, as in the paper; ``diff`` is ours minus the paper's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import atomic_write_text

__all__ = ["PAPER_TABLE1", "PAPER_TABLE2", "PAPER_TABLE3", "PAPER_TABLE4", "PAPER_TABLE5", "TABLES", "TableRow", "comparison",
           "write_table", "read_table", "markdown", "claim_row", "write_claims", "claims", "check_table", "write_index"]

# Paper numbers (Zhou et al. 2016), in percent. Keys are our registry names where we run the row.
PAPER_TABLE1 = {  # classification error on ILSVRC val: (row, top-1, top-5)
    "vgg16_gap": ("VGGnet-GAP", 33.4, 12.2), "googlenet_gap": ("GoogLeNet-GAP", 35.0, 13.2),
    "alexnet_star_gap": ("AlexNet*-GAP", 44.9, 20.9), "alexnet_gap": ("AlexNet-GAP", 51.1, 26.3),
    "googlenet": ("GoogLeNet", 31.9, 11.3), "vgg16": ("VGGnet", 31.2, 11.4), "alexnet": ("AlexNet", 42.6, 19.5),
    "nin": ("NIN", 41.9, 19.6), "googlenet_gmp": ("GoogLeNet-GMP", 35.6, 13.9),
    # not in the paper: its surgery on a modern ImageNet network available offline (the embedded benchmark's
    # main GAP network, fine-tuned from ImageNet as the paper's were)
    "efficientnet_lite0_gap": ("EfficientNet-Lite0-GAP (ImageNet backbone)", math.nan, math.nan),
    "efficientnet_lite0_gmp": ("EfficientNet-Lite0-GMP (ImageNet backbone)", math.nan, math.nan),
}
PAPER_TABLE2 = {  # localization error on ILSVRC val: (method, model) -> (row, top-1, top-5)
    ("cam", "googlenet_gap"): ("GoogLeNet-GAP", 56.40, 43.00), ("cam", "vgg16_gap"): ("VGGnet-GAP", 57.20, 45.14),
    ("cam", "googlenet"): ("GoogLeNet", 60.09, 49.34), ("cam", "alexnet_star_gap"): ("AlexNet*-GAP", 63.75, 49.53),
    ("cam", "alexnet_gap"): ("AlexNet-GAP", 67.19, 52.16), ("cam", "nin"): ("NIN", 65.47, 54.19),
    ("backprop", "googlenet"): ("Backprop on GoogLeNet", 61.31, 50.55),
    ("backprop", "vgg16"): ("Backprop on VGGnet", 61.12, 51.46),
    ("backprop", "alexnet"): ("Backprop on AlexNet", 65.17, 52.64),
    ("cam", "googlenet_gmp"): ("GoogLeNet-GMP", 57.78, 45.26),
    ("cam", "efficientnet_lite0_gap"): ("EfficientNet-Lite0-GAP", math.nan, math.nan),
    ("backprop", "efficientnet_lite0_gap"): ("Backprop on EfficientNet-Lite0-GAP", math.nan, math.nan),
    ("cam", "efficientnet_lite0_gmp"): ("EfficientNet-Lite0-GMP", math.nan, math.nan),
}
PAPER_TABLE3 = {  # top-5 localization error on ILSVRC test: key -> (row, supervision, top-5)
    "heuristic": ("GoogLeNet-GAP (heuristics)", "weakly", 37.1), "plain": ("GoogLeNet-GAP", "weakly", 42.9),
    "backprop": ("Backprop", "weakly", 46.4), "googlenet_full": ("GoogLeNet", "full", 26.7),
    "overfeat_full": ("OverFeat", "full", 29.9), "alexnet_full": ("AlexNet", "full", 34.2),
}
PAPER_TABLE4 = {  # CUB-200-2011 accuracy: key -> (row, train/test annotation, accuracy)
    "full": ("GoogLeNet-GAP on full image", "n/a", 63.0), "cam_crop": ("GoogLeNet-GAP on crop", "n/a", 67.8),
    "gt_box": ("GoogLeNet-GAP on BBox", "BBox", 70.5), "alignments": ("Alignments", "n/a", 53.6),
    "alignments_bbox": ("Alignments", "BBox", 67.0), "dpd": ("DPD", "BBox+Parts", 51.0),
    "decaf_dpd": ("DeCAF+DPD", "BBox+Parts", 65.0), "panda": ("PANDA R-CNN", "BBox+Parts", 76.4),
    "cam_loc_acc": ("CAM boxes with IoU >= 0.5 (test)", "n/a", 41.0),
}
PAPER_TABLE5_DATASETS = ("sun397", "mit67", "scene15", "sun_attribute", "caltech101", "caltech256", "action40",
                         "event8")
PAPER_TABLE5 = {  # linear SVM accuracy: feature -> (row, values in PAPER_TABLE5_DATASETS order)
    "fc7": ("fc7 from AlexNet", (42.61, 56.79, 84.23, 84.23, 87.22, 67.23, 54.92, 94.42)),
    "avepool": ("ave pool from GoogLeNet", (51.68, 66.63, 88.02, 92.85, 92.05, 78.99, 72.03, 95.42)),
    "gap": ("gap from GoogLeNet-GAP", (51.31, 66.61, 88.30, 92.21, 91.98, 78.07, 70.62, 95.00)),
}
# The embedded transfer suites are compared with the paper's closest dataset (scenes ~ Scene15, things ~ Caltech101).
EMBEDDED_TRANSFER_REFERENCE = {"scenes": "scene15", "things": "caltech101"}

TABLES = {
    "table1": "Table 1. Classification error on the validation set (%)",
    "table2": "Table 2. Localization error on the validation set (%)",
    "table2_test": "Table 2 on the test set: CAM threshold chosen on the validation set (Choe et al. 2020), against "
                   "trivial baselines (%)",
    "table3": "Table 3. Top-5 localization error on the test set (%)",
    "table4": "Table 4. Fine-grained classification (CUB) with GAP features (%)",
    "table5": "Table 5. Generic features: linear SVM accuracy (%)",
}


def paper_table5(feature: str, dataset: str) -> float:
    """The paper's Table 5 value for ``feature`` on ``dataset`` (a Table 5 name, or an embedded suite's name)."""
    name = EMBEDDED_TRANSFER_REFERENCE.get(dataset, dataset)
    if feature not in PAPER_TABLE5 or name not in PAPER_TABLE5_DATASETS:
        return math.nan
    return PAPER_TABLE5[feature][1][PAPER_TABLE5_DATASETS.index(name)]


@dataclass(frozen=True)
class TableRow:
    """One row of a results table: what it is (``labels``, e.g. ``{"row": "GoogLeNet-GAP", "model": ...}``, in
    column order), the metric, our value and the paper's (percent; NaN where a side has no number)."""

    labels: dict[str, str]
    metric: str
    ours: float
    paper: float
    ci_low: float = math.nan    # the 95% bootstrap interval of ours over images (percent; NaN: not measured)
    ci_high: float = math.nan

    def to_json(self) -> dict:
        return {**self.labels, "metric": self.metric, "ours": float(self.ours), "ci_low": float(self.ci_low),
                "ci_high": float(self.ci_high), "paper": float(self.paper)}

    @classmethod
    def from_json(cls, data: dict) -> "TableRow":
        labels = {k: v for k, v in data.items() if k not in _VALUE_COLUMNS}
        return cls(labels, data["metric"], float(data["ours"]), float(data["paper"]),
                   float(data.get("ci_low", math.nan)), float(data.get("ci_high", math.nan)))


_VALUE_COLUMNS = ("metric", "ours", "ci_low", "ci_high", "paper", "diff")


def comparison(rows: list[TableRow]) -> pd.DataFrame:
    """A table from :class:`TableRow` s (columns: the labels, ``metric``, ``ours``, its 95% interval ``ci_low`` /
    ``ci_high``, ``paper``), adding ``diff = ours - paper``."""
    df = pd.DataFrame([r.to_json() for r in rows])
    for col in ("ours", "ci_low", "ci_high", "paper"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["diff"] = df["ours"] - df["paper"]
    return df


FIGURE_CAPTIONS = {  # file-name prefix -> one line: what the figure shows and what the paper claims about it
    "00_samples": "Samples with their ground-truth boxes (red).",
    "01_training_curves": "Validation top-1 error per epoch of every network trained by notebook 01.",
    "01_table1": "Table 1 as bars. Paper: GAP costs a few points of classification error against the FC originals.",
    "02_table2": "Table 2 as bars. Paper: CAM on GAP networks beats Backprop, and GAP beats GMP.",
    "02_cam_vs_backprop": "The ground-truth class's CAM (GAP networks) against Backprop (FC networks), with boxes "
                          "(green) and ground truth (red). Paper: CAM highlights whole objects, Backprop scattered "
                          "edges.",
    "02_gap_vs_gmp": "GoogLeNet-GAP against GoogLeNet-GMP. Paper: GMP maps cover only the most discriminative part.",
    "02_pretrained": "EfficientNet-Lite0-GAP (ImageNet backbone): CAM, Backprop on the same network, and the GMP "
                     "variant, on the same images (green: box at 20%, red: ground truth).",
    "03_table3": "Table 3 as bars. Paper: the tight/loose heuristic beats the plain top-5 boxes.",
    "04_table4": "Table 4 as bars. Paper: CAM crop beats the full image, the ground-truth box beats both.",
    "04_birds_cam_boxes": "The paper's Figure 7: CAM boxes (green; CAMs from the linear SVM's weights for the species "
                          "it predicts) and ground truth (red) on test birds.",
    "05_table5": "Table 5 as bars. Paper: GAP features match GoogLeNet's average pool and beat AlexNet's fc7.",
    "05_cams": "CAMs of the top-1 object class on transfer images (classes the network never saw).",
    "06_top5_cams": "The paper's Figure 4: the CAMs of the top-5 classes of one image.",
    "06_class_maps": "The paper's Figure 5: maps of different classes on the same image.",
    "06_photos_imagenet": "The paper's Figure 1 on real photographs: the offline ImageNet network's top-1 CAM and box.",
}


def _caption(stem: str) -> str:
    return next((c for prefix, c in FIGURE_CAPTIONS.items() if stem.startswith(prefix)), "")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (written here rather than with pandas' to_markdown, which needs tabulate)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _header(env: dict, embedded: bool) -> list[str]:
    lines = [f"{k}: {v}" for k, v in env.items()]
    if embedded:
        lines.append("NOTE: our numbers are measured on the embedded benchmark, not on ImageNet/CUB; the paper's column "
                     "is the published reference, not a claim that the numbers should match. Compare directions "
                     "(which row beats which), not values.")
    return lines


def write_table(results: str | Path, name: str, df: pd.DataFrame, env: dict, notes: str = "") -> tuple[Path, Path]:
    """Write ``results/tables/<name>.csv`` and ``.md`` atomically with the run's header."""
    if name not in TABLES:
        raise ValueError(f"table name must be one of {sorted(TABLES)}, got {name!r}")
    folder = Path(results) / "tables"
    header = _header(env, "embedded" in str(env.get("data", "")))
    csv = "".join(f"# {line}\n" for line in [TABLES[name], *header]) + df.to_csv(index=False, float_format="%.4f")
    md = "\n".join([f"## {TABLES[name]}", "", *[f"- {line}" for line in header], "", markdown(df), "",
                    notes, ""])
    return atomic_write_text(folder / f"{name}.csv", csv), atomic_write_text(folder / f"{name}.md", md)


def read_table(results: str | Path, name: str) -> pd.DataFrame | None:
    path = Path(results) / "tables" / f"{name}.csv"
    return pd.read_csv(path, comment="#") if path.exists() else None


def claim_row(table: str, text: str, ours: str, verdict: str, seeds: str = "") -> dict:
    """One claim of the paper as the results page shows it: what the paper says, our numbers with the 95% interval
    of the difference, the spread over training seeds (if several), and the verdict (:func:`cam_lib.metrics.verdict`:
    "same direction" / "opposite direction" only when the interval excludes 0, else "not resolved"; "—": not run)."""
    return {"table": table, "claim": text, "ours": ours, "seeds": seeds, "verdict": verdict}


def write_claims(results: str | Path, table: str, rows: list[dict]) -> Path:
    """``results/tables/<table>.claims.json``: the claims a table's numbers decide (read back by :func:`claims`)."""
    if table not in TABLES:
        raise ValueError(f"table name must be one of {sorted(TABLES)}, got {table!r}")
    return atomic_write_text(Path(results) / "tables" / f"{table}.claims.json", json.dumps(rows, indent=1) + "\n")


def claims(results: str | Path) -> list[dict]:
    """Every claim written so far (:func:`write_claims`), in table order."""
    out = []
    for name in TABLES:
        path = Path(results) / "tables" / f"{name}.claims.json"
        if path.exists():
            out += json.loads(path.read_text())
    return out


def check_table(results: str | Path, name: str, models=()) -> str:
    """A verdict that does not depend on the profile (for nbval): ``"<name>: ok"`` when both files exist, every
    number of ours is a percentage, and every network of ``models`` that appears in the table has a number."""
    df = read_table(results, name)
    if df is None or not (Path(results) / "tables" / f"{name}.md").exists():
        return f"{name}: missing"
    ours = df["ours"].dropna()
    if not ours.between(0, 100).all():
        return f"{name}: values outside [0, 100]: {sorted(ours[~ours.between(0, 100)])}"
    if "model" in df:
        missing = sorted({m for m in models if m in set(df["model"])} - set(df.dropna(subset=["ours"])["model"]))
        if missing:
            return f"{name}: no number for {missing}"
    return f"{name}: ok"


def write_index(results: str | Path) -> Path:
    """(Re)generate ``results/README.md``: every table and figure present, and the claims with our verdicts."""
    results = Path(results)
    lines = ["# Results", "", "Generated by `cam_lib.results.write_index` after each notebook of the series "
             "(`python -m cam_lib reproduce`). Do not edit by hand.", ""]
    header = next((t for t in (results / "tables" / f"{n}.csv" for n in TABLES) if t.exists()), None)
    if header is not None:
        lines += [f"- {line[2:]}" for line in header.read_text().splitlines()[1:] if line.startswith("# ")] + [""]
    lines += ["## The paper's claims, in this run", "",
              "Each claim compares two numbers measured on the same images: `ours` gives both and the difference "
              "with its 95% paired-bootstrap interval (images resampled, both members of the pair together). The "
              "verdict says \"same direction\" or \"opposite direction\" only when that interval excludes 0, "
              "otherwise \"not resolved\". Where a pair was trained with several seeds, the interval is over the "
              "per-image outcomes averaged across seeds and `seeds` gives each seed's difference. The same seed on "
              "the same machine gives the same bytes; another machine, thread count or library version can move "
              "the trained networks' numbers within (and occasionally beyond) these intervals.", "",
              "| table | claim | ours | seeds | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {c['table']} | {c['claim']} | {c['ours']} | {c.get('seeds') or '—'} | {c['verdict']} |"
              for c in claims(results)]
    lines += ["", "## Tables", ""]
    for name, title in TABLES.items():
        md = results / "tables" / f"{name}.md"
        lines.append(f"- [{title}](tables/{name}.md) ([csv](tables/{name}.csv))" if md.exists()
                     else f"- {title}: not written yet")
    lines += ["", "## Figures", ""]
    for fig in sorted((results / "figures").glob("*.png")):
        lines += [f"### {fig.stem}", "", _caption(fig.stem), "", f"![{fig.stem}](figures/{fig.name})", ""]
    executed = sorted((results / "executed").glob("*.ipynb"))
    if executed:
        lines += ["## Executed notebooks", ""] + [f"- [{p.name}](executed/{p.name})" for p in executed] + [""]
    return atomic_write_text(results / "README.md", "\n".join(lines) + "\n")

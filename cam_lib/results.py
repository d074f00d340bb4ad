"""Results a user can cite: the paper's published numbers (Tables 1-5), our tables beside them, and the generated
``results/README.md`` that says, for each claim of the paper, whether this run shows the same direction.

Every table is written twice, atomically: ``results/tables/tableN.csv`` (read it with
``pandas.read_csv(path, comment="#")``: the header lines start with ``#``) and ``tableN.md``; both carry the
header of :func:`cam_lib.series.setups.environment` (data, profile, hardware, versions, seed, commit). Values are
percentages, as in the paper; ``diff`` is ours minus the paper's.

The series builds each table as a :class:`Table` (its :class:`TableRow` s, each with the machine key of its metric,
its :class:`Claim` s and its notes), which it writes with :meth:`Table.write` (the CSV, the Markdown and
``tableN.claims.json``) and which the notebooks' texts and charts read as it is; the results page
(:func:`write_index`) is generated from the written files of every notebook.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .io import atomic_write_text
from .runs import DEFAULT_RUN, is_default_run, recorded_run, results_folder

__all__ = ["PAPER_TABLE1", "PAPER_TABLE2", "PAPER_TABLE3", "PAPER_TABLE4", "PAPER_TABLE5", "TABLES", "TableRow",
           "Claim", "Table", "comparison", "write_table", "read_table", "markdown", "readable", "readable_markdown",
           "claim_row", "write_claims", "claims", "check_table", "write_index"]

# Paper numbers (Zhou et al. 2016), in percent. Keys are our registry names where we run the row.
PAPER_TABLE1 = {  # classification error on ILSVRC val: (row, top-1, top-5)
    "vgg16_gap": ("VGGnet-GAP", 33.4, 12.2), "googlenet_gap": ("GoogLeNet-GAP", 35.0, 13.2),
    "alexnet_star_gap": ("AlexNet*-GAP", 44.9, 20.9), "alexnet_gap": ("AlexNet-GAP", 51.1, 26.3),
    "googlenet": ("GoogLeNet", 31.9, 11.3), "vgg16": ("VGGnet", 31.2, 11.4), "alexnet": ("AlexNet", 42.6, 19.5),
    "nin": ("NIN", 41.9, 19.6), "googlenet_gmp": ("GoogLeNet-GMP", 35.6, 13.9),
    # not in the paper: its surgery on a modern ImageNet network available offline (the embedded benchmark's
    # main GAP network, fine-tuned from ImageNet as the paper's were)
    **{f"efficientnet_{v}_{p}": (f"EfficientNet-{v.title()}-{p.upper()} (ImageNet backbone)", math.nan, math.nan)
       for v in ("lite0", "lite1", "lite2") for p in ("gap", "gmp")},
}
PAPER_TABLE2 = {  # localization error on ILSVRC val: (method, model) -> (row, top-1, top-5)
    ("cam", "googlenet_gap"): ("GoogLeNet-GAP", 56.40, 43.00), ("cam", "vgg16_gap"): ("VGGnet-GAP", 57.20, 45.14),
    ("cam", "googlenet"): ("GoogLeNet", 60.09, 49.34), ("cam", "alexnet_star_gap"): ("AlexNet*-GAP", 63.75, 49.53),
    ("cam", "alexnet_gap"): ("AlexNet-GAP", 67.19, 52.16), ("cam", "nin"): ("NIN", 65.47, 54.19),
    ("backprop", "googlenet"): ("Backprop on GoogLeNet", 61.31, 50.55),
    ("backprop", "vgg16"): ("Backprop on VGGnet", 61.12, 51.46),
    ("backprop", "alexnet"): ("Backprop on AlexNet", 65.17, 52.64),
    ("cam", "googlenet_gmp"): ("GoogLeNet-GMP", 57.78, 45.26),
    **{("cam", f"efficientnet_{v}_{p}"): (f"EfficientNet-{v.title()}-{p.upper()}", math.nan, math.nan)
       for v in ("lite0", "lite1", "lite2") for p in ("gap", "gmp")},
    **{("backprop", f"efficientnet_{v}_gap"): (f"Backprop on EfficientNet-{v.title()}-GAP", math.nan, math.nan)
       for v in ("lite0", "lite1", "lite2")},
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
    "table7": "CAM and its successors on the main GAP network, test split (not in the paper) (%)",
    "table7_real": "CAM, its successors, the ImageNet ladder and the baselines on real ILSVRC val images (not in the "
                   "paper) (%)",
    "table7_floor": "How far CAM reaches below zero: embedded 10-class heads against 1000-class ImageNet networks "
                    "(not in the paper) (%)",
    "table7_speed": "CAM and its successors: images per second, side by side (not in the paper)",
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
    column order), the metric as the table shows it (``metric``, a display label), our value and the paper's
    (percent; NaN where a side has no number), and ``key``: the metric's machine name (e.g. ``"gt_known_tau_val"``;
    the :class:`~cam_lib.localize.Evaluation` key of the number where it has one, ``"baseline:<name>"`` for a
    content-free box), by which code finds a row (:meth:`Table.row`). ``key`` is not a column of the written
    table."""

    labels: dict[str, str]
    metric: str
    ours: float
    paper: float
    ci_low: float = math.nan    # the 95% bootstrap interval of ours over images (percent; NaN: not measured)
    ci_high: float = math.nan
    key: str = field(default="", kw_only=True)

    @property
    def ran(self) -> bool:
        """Whether this run has a number for the row."""
        return math.isfinite(float(self.ours))

    def to_json(self) -> dict:
        return {**self.labels, "metric": self.metric, "ours": float(self.ours), "ci_low": float(self.ci_low),
                "ci_high": float(self.ci_high), "paper": float(self.paper)}

    @classmethod
    def from_json(cls, data: dict) -> "TableRow":
        labels = {k: v for k, v in data.items() if k not in _VALUE_COLUMNS}
        return cls(labels, data["metric"], float(data["ours"]), float(data["paper"]),
                   float(data.get("ci_low", math.nan)), float(data.get("ci_high", math.nan)))


_VALUE_COLUMNS = ("metric", "ours", "ci_low", "ci_high", "paper", "diff")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper as a table's numbers decide it (:func:`cam_lib.series.tables`): the table, what the
    paper says (``claim``), our numbers with the 95% interval of the difference (``ours``), the spread over
    training seeds (``seeds``, "" for one seed) and the ``verdict`` (:func:`cam_lib.metrics.verdict`: "same
    direction" / "opposite direction" only when the interval excludes 0, else "not resolved"; "—": not run)."""

    table: str
    claim: str
    ours: str
    verdict: str
    seeds: str = ""

    @property
    def ran(self) -> bool:
        return self.verdict != "—"

    def to_json(self) -> dict:
        """The claim as ``tables/<table>.claims.json`` and the results page hold it (:func:`claim_row`)."""
        return claim_row(self.table, self.claim, self.ours, self.verdict, self.seeds)

    @classmethod
    def from_json(cls, data: dict) -> "Claim":
        return cls(data["table"], data["claim"], data["ours"], data["verdict"], data.get("seeds") or "")


@dataclass(frozen=True)
class Table:
    """A results table as the series builds it (``table1`` ... ``table5``, ``table2_test``): its ``name`` (a key of
    :data:`TABLES`), its ``rows`` (:class:`TableRow`), the ``claims`` its numbers decide (:class:`Claim`) and its
    ``notes`` (the text under the written table). :attr:`df` is the long DataFrame of :func:`comparison` (for
    display); code reads the rows by their machine names: :meth:`row`, :meth:`value`, :meth:`select` (metric key
    and labels such as ``model``, ``method``, ``key``, ``dataset``). :meth:`write` writes
    ``results/tables/<name>.csv``, ``.md`` and ``.claims.json``."""

    name: str
    rows: tuple[TableRow, ...]
    claims: tuple[Claim, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if self.name not in TABLES:
            raise ValueError(f"table name must be one of {sorted(TABLES)}, got {self.name!r}")
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "claims", tuple(self.claims))
        for r in self.rows:
            if not isinstance(r, TableRow):
                raise TypeError(f"{self.name}: rows must be TableRow, got {type(r).__name__}")
        for c in self.claims:
            if not isinstance(c, Claim):
                raise TypeError(f"{self.name}: claims must be Claim, got {type(c).__name__}")

    @property
    def df(self) -> pd.DataFrame:
        """The table as :func:`comparison` builds it (a new DataFrame at each call): what the CSV holds."""
        return comparison(list(self.rows))

    def select(self, key: str | None = None, /, **labels) -> list[TableRow]:
        """The rows of metric ``key`` (None: every metric) whose labels equal ``labels``, in table order."""
        return [r for r in self.rows if (key is None or r.key == key)
                and all(r.labels.get(k) == v for k, v in labels.items())]

    def row(self, key: str, /, **labels) -> TableRow | None:
        """The first row of metric ``key`` with ``labels`` (e.g. ``t.row("top1_loc_err", model="nin",
        method="cam")``); None when the table has none."""
        found = self.select(key, **labels)
        return found[0] if found else None

    def value(self, key: str, /, **labels) -> float:
        """Our number of :meth:`row` (percent); NaN when the row is missing or was not run."""
        r = self.row(key, **labels)
        return math.nan if r is None else float(r.ours)

    def write(self, results: str | Path, env: dict) -> tuple[Path, Path, Path]:
        """``results/tables/<name>.csv`` and ``.md`` (:func:`write_table`) and ``<name>.claims.json``
        (:func:`write_claims`)."""
        csv, md = write_table(results, self.name, self.df, env, notes=self.notes)
        return csv, md, write_claims(results, self.name, list(self.claims))


def comparison(rows: list[TableRow]) -> pd.DataFrame:
    """A table from :class:`TableRow` s (columns: the labels, ``metric``, ``ours``, its 95% interval ``ci_low`` /
    ``ci_high``, ``paper``), adding ``diff = ours - paper``."""
    df = pd.DataFrame([r.to_json() for r in rows])
    for col in ("ours", "ci_low", "ci_high", "paper"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["diff"] = df["ours"] - df["paper"]
    return df


FIGURE_CAPTIONS = {  # file-name prefix -> what the figure draws; used only for a PNG without its own caption
    # (the series' figures write a caption from the run's numbers into the PNG: cam_lib.figures.read_caption)
    "00_samples": "Samples with their ground-truth boxes (red).",
    "01_training_curves": "Validation top-1 error per epoch of every network trained by notebook 01.",
    "01_table1": "Table 1 as charts: our values with their 95% intervals, the paper's as diamonds.",
    "02_table2": "Table 2 as charts: our values with their 95% intervals, the paper's as diamonds.",
    "02_cam_vs_backprop": "The ground-truth class's CAM (GAP networks) against Backprop (FC networks), with boxes "
                          "(green) and ground truth (red).",
    "02_gap_vs_gmp": "GoogLeNet-GAP against GoogLeNet-GMP (green: box at 20%, red: ground truth). Paper: GMP maps "
                     "cover only the most discriminative part.",
    "02_pretrained": "EfficientNet-Lite0-GAP (ImageNet backbone): CAM, Backprop on the same network, and the GMP "
                     "variant, on the same images (green: box at 20%, red: ground truth).",
    "03_table3": "Table 3 as a chart: our values with their 95% intervals, the paper's as diamonds.",
    "04_table4": "Table 4 as charts: accuracies and the CAM boxes' localization rate on separate axes.",
    "04_birds_cam_boxes": "CAM boxes (green; CAMs from the linear SVM's weights for the species it predicts) and "
                          "ground truth (red) on test birds.",
    "05_table5": "Table 5 as charts, one per dataset, with chance.",
    "05_cams": "CAMs of the top-1 object class on transfer images (classes the network never saw).",
    "06_top5_cams": "The CAMs of the top-5 classes of one image.",
    "06_class_maps": "Maps of different classes on the same image, the true class first.",
    "06_photos_imagenet": "The offline ImageNet network's top-1 CAM and box on real photographs.",
}


def _caption(fig: Path) -> str:
    """The caption a figure carries (written from the run's numbers), else the fixed line of its prefix."""
    from .figures import read_caption

    try:
        own = read_caption(fig)
    except (OSError, ValueError):
        own = ""
    return own or next((c for prefix, c in FIGURE_CAPTIONS.items() if fig.stem.startswith(prefix)), "")


_ID_COLUMNS = ("model", "method", "key", "feature")   # machine names: in the CSV, not in the readable table


def _cell(ours: float, low: float, high: float) -> str:
    if not math.isfinite(ours):
        return "—"
    return f"{ours:.1f} [{low:.1f}, {high:.1f}]" if math.isfinite(low) and math.isfinite(high) else f"{ours:.1f}"


def readable(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A long table of :func:`comparison` as one row per network (or method) and one column per metric (and
    dataset): our value with its 95% interval, and beside each metric the paper's value where it has one. Returns
    the table (strings) and notes: the networks not run in this profile (left out of the table) and the paper's
    values that are the same for every row (e.g. its fixed 20% threshold)."""
    labels = [c for c in df.columns if c not in _VALUE_COLUMNS]
    df = df.copy()   # a label read back from a CSV as NaN (pandas reads "n/a" so) is a label, not a number
    df[labels] = df[labels].astype(object).where(df[labels].notna(), "n/a")
    index = [c for c in labels if c not in (*_ID_COLUMNS, "dataset")] or labels[:1]
    levels = [c for c in ("dataset", "metric") if c in df.columns]
    shown = [c for c in levels if df[c].nunique() > 1] or levels[-1:]
    items = list(dict.fromkeys(tuple(r) for r in df[index].itertuples(index=False)))
    columns = list(dict.fromkeys(tuple(r) for r in df[levels].itertuples(index=False)))
    notes, out, not_run = [], [], []
    paper_cols = {}
    for col in columns:
        sel = df[(df[levels] == pd.Series(col, index=levels)).all(axis=1)]
        paper = sel["paper"].dropna()
        name = " · ".join(str(v) for v, lv in zip(col, levels) if lv in shown)
        if paper.nunique() == 1 and len(paper) > 1:
            notes.append(f"The paper's value of {name} is {paper.iloc[0]:g} for every row.")
        elif len(paper):
            paper_cols[col] = f"{name} (paper)"
    for item in items:
        sel = df[(df[index] == pd.Series(item, index=index)).all(axis=1)]
        if "model" in df.columns and sel["ours"].isna().all() and not sel["model"].isin(["-"]).all():
            not_run.append(" / ".join(str(v) for v in item))
            continue
        row = dict(zip(index, item))
        for col in columns:
            name = " · ".join(str(v) for v, lv in zip(col, levels) if lv in shown)
            cell = sel[(sel[levels] == pd.Series(col, index=levels)).all(axis=1)]
            if len(cell):
                c = cell.iloc[0]
                row[name] = _cell(float(c["ours"]), float(c["ci_low"]), float(c["ci_high"]))
                if col in paper_cols:
                    paper = float(c["paper"])
                    row[paper_cols[col]] = f"{paper:.1f}" if math.isfinite(paper) else "—"
            else:
                row[name] = "—"
                if col in paper_cols:
                    row[paper_cols[col]] = "—"
        out.append(row)
    if not_run:
        notes.insert(0, f"Not run in this profile (the paper's numbers are in the CSV): {', '.join(not_run)}.")
    table = pd.DataFrame(out)
    return table.fillna("—"), notes


def readable_markdown(df: pd.DataFrame) -> str:
    """:func:`readable` as Markdown: the table, then its notes; cells are ours [95% interval]."""
    table, notes = readable(df)
    return "\n\n".join([markdown(table), "Cells: this run's value [95% interval over images]; \"(paper)\" "
                        "columns: the published value.", *notes]) + "\n"


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
    full = df[df["ours"].notna() | df["paper"].notna()]   # rows with a number on either side
    md = "\n".join([f"## {TABLES[name]}", "", *[f"- {line}" for line in header], "", readable_markdown(df),
                    notes, "", "<details><summary>Every row with its 95% interval and the difference to the paper "
                    "(as in the CSV)</summary>", "", markdown(full), "", "</details>", ""])
    return atomic_write_text(folder / f"{name}.csv", csv), atomic_write_text(folder / f"{name}.md", md)


def read_table(results: str | Path, name: str) -> pd.DataFrame | None:
    path = Path(results) / "tables" / f"{name}.csv"
    return pd.read_csv(path, comment="#") if path.exists() else None


def claim_row(table: str, text: str, ours: str, verdict: str, seeds: str = "") -> dict:
    """One claim of the paper as the results page shows it: what the paper says, our numbers with the 95% interval
    of the difference, the spread over training seeds (if several), and the verdict (:func:`cam_lib.metrics.verdict`:
    "same direction" / "opposite direction" only when the interval excludes 0, else "not resolved"; "—": not run)."""
    return {"table": table, "claim": text, "ours": ours, "seeds": seeds, "verdict": verdict}


def write_claims(results: str | Path, table: str, rows: list) -> Path:
    """``results/tables/<table>.claims.json``: the claims a table's numbers decide (:class:`Claim` s or
    :func:`claim_row` dicts; read back by :func:`claims` for the results page)."""
    if table not in TABLES:
        raise ValueError(f"table name must be one of {sorted(TABLES)}, got {table!r}")
    rows = [r.to_json() if isinstance(r, Claim) else r for r in rows]
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


def _run_note(results: Path, run: dict) -> str:
    """Which run a results page shows, and where the project's default run is (:mod:`cam_lib.runs`)."""
    what = f"data {run['data']}, profile {run['profile']}, seed {run['seed']}"
    if is_default_run(run["data"], run["profile"], run["seed"]):
        return (f"The project's default run ({what}): the results this repository commits. Every other run writes "
                "its own folder, `results/runs/<data>-<profile>-s<seed>/`, with its own page.")
    default = results_folder(**DEFAULT_RUN) / "README.md"
    try:
        link = os.path.relpath(default, results.resolve())
    except ValueError:   # another drive (Windows)
        link = str(default)
    return (f"**Run {run['run']} ({what}), not the project's default run**: its numbers are this run's only. The "
            f"default run's results: [{default.parent.name}/README.md]({link}).")


HEADLINE_FIGURE = "06_photos_imagenet.png"   # the results page's first screen: CAMs and boxes on real photographs


def _verdict_summary(found: list[dict]) -> str:
    """The first line of a results page: how many claims this run decides, and which way."""
    from collections import Counter

    decided = [c for c in found if c.get("verdict") not in (None, "", "—")]
    if not decided:
        return "No claim of the paper is decided in this run yet."
    counts = Counter(c["verdict"] for c in decided)
    order = ["same direction", "opposite direction", "not resolved", "depends on the protocol", "not testable here"]
    parts = [f"**{counts[v]} {v}**" for v in order if counts.get(v)] + \
            [f"**{n} {v}**" for v, n in counts.items() if v not in order]
    return (f"**{len(decided)} claims** of the paper (and of its successors) decided by this run's numbers: "
            + ", ".join(parts) + ". Every verdict comes from the paired 95% interval of the difference (below).")


def write_index(results: str | Path) -> Path:
    """(Re)generate ``results/README.md``: every table and figure present, and the claims with our verdicts."""
    results = Path(results)
    run = recorded_run(results)
    found = claims(results)
    lines = ["# Results" + (f" of run {run['run']}" if run else ""), ""] + ([_run_note(results, run), ""] if run else [])
    lines += [_verdict_summary(found), ""]
    headline = results / "figures" / HEADLINE_FIGURE
    if headline.exists():
        lines += [f"![{headline.stem}](figures/{headline.name})", "", _caption(headline), ""]
    lines += ["Generated by `cam_lib.results.write_index` after each notebook of the series "
              "(`python -m cam_lib reproduce`). Do not edit by hand. The run's parameters, machine and versions: "
              "[below](#this-run).", ""]
    lines += ["## The paper's claims, in this run", "",
              "Each claim compares two numbers measured on the same images: `ours` gives both and the difference "
              "with its paired 95% interval (both members of a pair scored on the same images: Agresti and Min's "
              "interval for matched hits and errors; a paired bootstrap over images, never narrower than that, for "
              "other outcomes; where a pair was trained with several seeds, a bootstrap over seeds and images, and "
              "`seeds` gives each seed's difference). The verdict says \"same direction\" or \"opposite "
              "direction\" only when that interval excludes 0, otherwise \"not resolved\". A localization claim "
              "is decided under three protocols (the paper's tau 0.2, each side's own val-chosen tau, MaxBoxAccV2; a "
              "claim against a baseline under the first two, since a content-free box has no threshold to sweep) "
              "and reads \"depends on the protocol\" when they disagree; a claim about two networks neither of "
              "which beats chance (classification) or the best baseline that ignores the network (localization) "
              "reads \"not testable here\". The same seed on the same machine gives the same bytes; the seed "
              "intervals are there so that another machine's training does not flip a verdict.", "",
              "| table | claim | ours | seeds | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {c['table']} | {c['claim']} | {c['ours']} | {c.get('seeds') or '—'} | {c['verdict']} |"
              for c in found]
    header = next((t for t in (results / "tables" / f"{n}.csv" for n in TABLES) if t.exists()), None)
    if header is not None:
        lines += ["", "## This run", ""]
        lines += [f"- {line[2:]}" for line in header.read_text().splitlines()[1:] if line.startswith("# ")]
    lines += ["", "## Tables", ""]
    for name, title in TABLES.items():
        md = results / "tables" / f"{name}.md"
        lines.append(f"- [{title}](tables/{name}.md) ([csv](tables/{name}.csv))" if md.exists()
                     else f"- {title}: not written yet")
    lines += ["", "## Figures", ""]
    for fig in sorted((results / "figures").glob("*.png")):
        lines += [f"### {fig.stem}", "", _caption(fig), "", f"![{fig.stem}](figures/{fig.name})", ""]
    executed = sorted((results / "executed").glob("*.ipynb"))
    if executed:
        lines += ["## Executed notebooks", ""] + [f"- [{p.name}](executed/{p.name})" for p in executed] + [""]
    return atomic_write_text(results / "README.md", "\n".join(lines) + "\n")

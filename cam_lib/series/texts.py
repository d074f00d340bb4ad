"""What the notebooks say, written from the run's own numbers: the summary that opens every notebook
(:func:`summary`), "What the numbers mean" under each table (:func:`meaning`: this run's numbers first, then what
the paper found) and the captions of the figures (built by :mod:`cam_lib.series.figures` from what each figure
draws, stored in its PNG and read back by :func:`caption`). No sentence here states a result it did not compute:
a word such as "hit", "beats" or "whole frame" comes from the number beside it.

Every text of a table reads the :class:`~cam_lib.results.Table` the table function returned (its rows by their
metric keys and labels, its claims): nothing is read back from the files the table wrote.

The notebooks show these with ``IPython.display.Markdown``; tests/test_texts.py builds tables whose numbers
contradict the paper and checks that the text says so."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..results import (PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE4, PAPER_TABLE5, Table, TableRow,
                       readable_markdown)
from ..train import RECIPES
from .artifacts import IMAGE_BASELINES
from .setups import NotTrainedError, Setup

__all__ = ["PROFILE_NOTES", "summary", "how_trained", "main_choice_text", "meaning", "caption", "table_markdown",
           "count_phrase", "verdict_phrase", "classification_chance", "finished_line", "short_errors"]

PROFILE_NOTES = {
    "smoke": "a pipeline check in seconds (two epochs on small images): its numbers mean nothing",
    "default": "the embedded benchmark at CPU scale: compare the directions of the differences with the paper's, "
               "not the values",
    "full": "every network of Table 1 on the embedded benchmark: compare the directions of the differences with "
            "the paper's, not the values",
}
VERDICT_PHRASES = {
    "same direction": "**same direction as the paper** (the 95% interval of the difference excludes 0)",
    "opposite direction": "**opposite direction to the paper** (the 95% interval of the difference excludes 0)",
    "not resolved": "**not resolved** (the 95% interval of the difference contains 0)",
    "depends on the protocol": "**depends on the protocol** (the verdicts under the paper's 20%, each side's own "
                               "val-chosen threshold and MaxBoxAccV2 disagree)",
    "not testable here": "**not testable here** (neither side beats what ignores the network: the best baseline, or "
                         "chance)",
    "—": "**not run** in this profile",
}


# --- small pieces --------------------------------------------------------------------------------------------------

def _spread(rows: list, lo, hi, what: str) -> str:
    """``"of the 3 networks ranges from 10.0% (A) to 20.0% (B)"``; with one row, ``"of A is 10.0%"``."""
    if len(rows) == 1:
        return f"of {_name(lo)} is {_pct(lo.ours)}"
    return f"of the {len(rows)} {what} ranges from {_pct(lo.ours)} ({_name(lo)}) to {_pct(hi.ours)} ({_name(hi)})"


def count_phrase(k: int, n: int, what: str) -> str:
    """``"3 of 6 boxes"`` / ``"all 6 boxes"`` / ``"none of the 6 boxes"``."""
    if n > 1 and k == n:
        return f"all {n} {what}"
    if n > 1 and k == 0:
        return f"none of the {n} {what}"
    return f"{k} of {n} {what}"


def verdict_phrase(verdict: str) -> str:
    return VERDICT_PHRASES.get(verdict, f"**{verdict}**")


def classification_chance(num_classes: int, k: int = 1) -> float:
    """The error (%) of guessing ``k`` classes at random among ``num_classes``."""
    return 100.0 * (1.0 - min(k, num_classes) / num_classes) if num_classes else math.nan


def _pct(x: float) -> str:
    return "—" if x is None or not math.isfinite(float(x)) else f"{float(x):.1f}%"


def _num(x: float) -> str:
    return "—" if x is None or not math.isfinite(float(x)) else f"{float(x):.1f}"


def _claim_lines(table: Table) -> list[str]:
    """One line per claim of ``table``: what the paper says, this run's numbers and the verdict."""
    out = []
    for c in table.claims:
        seeds = f" ({c.seeds})" if c.seeds else ""
        ours = "" if c.verdict == "—" else f" This run: {c.ours}{seeds}:"
        out.append(f"- {c.claim}.{ours} {verdict_phrase(c.verdict)}.")
    return out


def _ran(rows: list[TableRow]) -> list[TableRow]:
    """The rows this run has a number for, in table order."""
    return [r for r in rows if r.ran]


def _name(r: TableRow) -> str:
    """A row's display name (the ``row`` label), for the text only."""
    return str(r.labels.get("row", ""))


def _lowest(rows: list[TableRow]) -> TableRow:
    return min(rows, key=lambda r: r.ours)    # the first of equal values, in table order


def _highest(rows: list[TableRow]) -> TableRow:
    return max(rows, key=lambda r: r.ours)


def _profile_line(s: Setup) -> str:
    note = PROFILE_NOTES.get(s.profile, "") if s.data == "embedded" else "real data"
    return f"Profile `{s.profile}`" + (f": {note}." if note else ".")


def table_markdown(table: Table) -> str:
    """A table of :mod:`cam_lib.series.tables` as the notebooks show it: one row per network, one column per
    metric, each value with its 95% interval, the paper's beside it (:func:`cam_lib.results.readable`)."""
    return readable_markdown(_checked(table).df)


def _checked(table) -> Table:
    if not isinstance(table, Table):
        raise BadInputError(f"parameter table: expected the Table a table function returns (series.table1(s), ...), "
                            f"got {type(table).__name__}", param="table")
    return table


def caption(path: str | Path) -> str:
    """The caption stored in a figure of the series (what it draws, from the run's numbers; then the paper)."""
    from ..figures import read_caption

    text = read_caption(path)
    return text or f"`{Path(path).name}`"


def finished_line(path: str | Path) -> str:
    """What a notebook's last cell prints: the results page it regenerated."""
    from ..runs import shown_path

    return f"Results page regenerated: {shown_path(path)}"


def main_choice_text(s: Setup, model: str) -> str:
    """What notebook 01 says of the main GAP network: the candidates' validation numbers and the one chosen (the
    best GT-known localization at its own val-chosen threshold, then MaxBoxAccV2), or why there was no choice."""
    from .artifacts import main_choice

    choice = main_choice(s)
    if not choice:
        return f"**The main GAP network** (Tables 3-5, the claims, the figures): `{model}`.\n"
    lines = [f"**The main GAP network** (Tables 3-5, the claims, the figures) is chosen on the validation split only, "
             f"by GT-known localization at each network's own val-chosen threshold (then MaxBoxAccV2): `{model}`.", "",
             "| candidate | GT-known at its val tau | its tau | MaxBoxAccV2 | top-1 cls err |", "|---|---|---|---|---|"]
    for name, n in choice["candidates"].items():
        lines.append(f"| `{name}` | {_pct(100 * n['gt_known_tau_val'])} | {n['tau_val']:.2f} | "
                     f"{_pct(100 * n['maxboxacc_v2'])} | {_pct(100 * n['top1_cls_err'])} |")
    return "\n".join(lines) + "\n"


# --- the summary that opens every notebook ---------------------------------------------------------------------------

def _link(target: Path) -> str:
    """A Markdown link to ``target`` relative to the kernel's folder (the notebook's, in JupyterLab)."""
    try:
        rel = os.path.relpath(Path(target).resolve(), Path.cwd())
    except ValueError:   # another drive
        rel = str(Path(target).resolve())
    return f"[{rel}]({rel.replace(' ', '%20')})"


def how_trained(s: Setup, model: str) -> str:
    """How the series trains ``model``, read from its recipe (:data:`cam_lib.train.RECIPES`), so no override or new
    recipe leaves the summary stale: from scratch (its width), fine-tuned whole, or the surgery's frozen backbone
    with its last ``tuned_stages`` stages and the new layers trained."""
    if model not in s.fine_tuned:
        return "fine-tuned from ImageNet" if s.pretrained_of(model) else f"from scratch, width {s.width_of(model):g}"
    rec = RECIPES[s.recipe_of(model)]
    if not rec.frozen:
        return "ImageNet backbone, the whole network fine-tuned"
    if not rec.tuned_stages:
        return "ImageNet backbone frozen, the new layers trained on it"
    n = rec.tuned_stages
    return (f"ImageNet backbone: its last {n} stage{'s' * (n > 1)} and the new layers fine-tuned, the earlier layers "
            "frozen")


def summary(s: Setup) -> str:
    """A few lines of Markdown on what this run is: profile, data, networks, seeds, device, where the results go."""
    lines = [f"**This run.** {_profile_line(s)}"]
    if s.data == "embedded":
        extra = ", ".join(["birds (Table 4)"] * (s.cub_root is not None) + [f"`{n}`" for n in s.transfer])
        lines.append(f"- Data: the embedded benchmark generated for this profile with seed {s.seed}: "
                     f"{s.num_classes} object classes (Tables 1-3)" + (f"; {extra} (Table 5)" if extra else "") + ".")
    else:
        lines.append(f"- Data: `{s.data}` at `{s.val_root}`, {s.num_classes} classes"
                     + (f"; CUB at `{s.cub_root}`" if s.cub_root else "")
                     + (f"; transfer: {', '.join(s.transfer)}" if s.transfer else "") + ".")
    nets = []
    try:
        main, seeded = s.main_gap, s.seeded_models
    except NotTrainedError:   # chosen on validation by notebook 01, after training
        main, seeded = None, ()
    for m in s.models:
        nets.append(f"`{m}` ({how_trained(s, m)}{'; the main GAP network' if m == main else ''})")
    lines.append(f"- Networks ({len(nets)}): " + ", ".join(nets) + "."
                 + ("" if main else " The main GAP network is chosen on the validation split by notebook 01."))
    seeds = f"- Training seed {s.seed}"
    if s.extra_seeds and seeded:
        seeds += (f"; {', '.join(f'`{m}`' for m in seeded)} also with seed{'s' * (len(s.extra_seeds) > 1)} "
                  f"{', '.join(map(str, s.extra_seeds))}")
    elif s.extra_seeds:
        seeds += (f"; the main GAP network and its GMP twin also with seeds {', '.join(map(str, s.extra_seeds))}")
    lines.append(seeds + f". Device: `{s.device}`.")
    lines.append(f"- Results (tables, figures, the paper's claims with this run's verdicts): "
                 f"{_link(Path(s.results) / 'README.md')}.")
    return "\n".join(lines) + "\n"


# --- "What the numbers mean" ----------------------------------------------------------------------------------------

def meaning(s: Setup, table: Table) -> str:
    """"What the numbers mean" under ``table`` (the :class:`~cam_lib.results.Table` that ``table1`` ... ``table5``
    or ``table2_test`` returned), from its rows and claims: this run's numbers first, then what the paper found."""
    make = {"table1": _table1, "table2": _table2, "table2_test": _table2_test, "table3": _table3,
            "table4": _table4, "table5": _table5, "table7": _table7, "table7_real": _table7_real,
            "table7_floor": _table7_floor, "table7_speed": _table7_speed}
    table = _checked(table)
    if table.name not in make:
        raise ValueError(f"table must be one of {sorted(make)}, got {table.name!r}")
    body = make[table.name](s, table)
    smoke = ("\n\n*Smoke profile: a pipeline check; the numbers above mean nothing about the method.*"
             if s.profile == "smoke" and s.data == "embedded" else "")
    return "**What the numbers mean.** " + body.strip() + smoke + "\n"


def _half_width(rows: list[TableRow]) -> float:
    """The median half-width of the rows' 95% intervals (points)."""
    ok = [r for r in _ran(rows) if not (math.isnan(r.ci_low) or math.isnan(r.ci_high))]
    return float(np.median([(r.ci_high - r.ci_low) / 2 for r in ok])) if ok else math.nan


def _table1(s: Setup, t: Table) -> str:
    top1 = _ran(t.select("top1_cls_err"))
    if not top1:
        return "No network of Table 1 was evaluated in this run."
    lo, hi = _lowest(top1), _highest(top1)
    chance = classification_chance(s.num_classes)
    first = (f"In this run the top-1 classification error {_spread(top1, lo, hi, 'networks')}; guessing among the "
             f"{s.num_classes} classes errs "
             f"{_pct(chance)} of the time. The 95% intervals over the validation images are about "
             f"+-{_num(_half_width(top1))} points wide.")
    above = [r for r in top1 if _at_chance(r, chance, error=True)]
    if above:
        first += f" No better than chance (the 95% interval of the error reaches chance): {', '.join(map(_name, above))}."
    out = [first, "", "GAP against the original networks, image by image:"] + _claim_lines(t) + [""]
    p = PAPER_TABLE1
    out.append(f"The paper (ILSVRC val): replacing the fully connected layers by global average pooling costs a few "
               f"points of top-1 error (GoogLeNet-GAP {p['googlenet_gap'][1]} vs GoogLeNet {p['googlenet'][1]}, "
               f"VGGnet-GAP {p['vgg16_gap'][1]} vs VGGnet {p['vgg16'][1]}, AlexNet-GAP {p['alexnet_gap'][1]} vs "
               f"AlexNet {p['alexnet'][1]}), and GMP classifies about as well as GAP (GoogLeNet-GMP "
               f"{p['googlenet_gmp'][1]}).")
    return "\n".join(out)


def _is_baseline(r: TableRow) -> bool:
    """A row of a baseline (a content-free box, or an image baseline whose maps ignore the network)."""
    return r.labels.get("method") in ("fixed box", *IMAGE_BASELINES)


def _networks(rows: list[TableRow]) -> list[TableRow]:
    return [r for r in rows if not _is_baseline(r)]


def _baselines(t: Table, key: str = "gt_known_loc_acc") -> dict[str, tuple[str, float]]:
    """The baselines the table measured under metric ``key`` (and the content-free boxes, rows ``baseline:<name>``):
    row name -> (their words, our number), in table order."""
    return {_name(r): (_name(r).replace(" (baseline)", "")[0].lower() + _name(r).replace(" (baseline)", "")[1:],
                       float(r.ours))
            for r in t.rows if r.ran and (r.key.startswith("baseline:") or (r.key == key and _is_baseline(r)))}


def _against_baselines(rows: list[TableRow], base: dict[str, tuple[str, float]]) -> list[str]:
    """Sentences placing each network's GT-known localization (with its interval) against the baselines."""
    if not base or not rows:
        return []
    best_name, best = max(base.values(), key=lambda nv: nv[1])
    frame = next((v for k, (_, v) in base.items() if k.startswith("Whole frame")), min(v for _, v in base.values()))
    above = [r for r in rows if r.ci_low > best]
    below = [r for r in rows if r.ci_high < frame]
    placed = {id(r) for r in above + below}
    between = [r for r in rows if id(r) not in placed]
    out = [f"What finds the objects without the network reaches {', '.join(f'{_pct(v)} ({k})' for k, v in base.values())}."]
    if above:
        out.append(f"Above the best of them ({best_name}, {_pct(best)}) by more than the interval: "
                   + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in above) + ".")
    else:
        out.append(f"No network's GT-known localization is above the best baseline ({best_name}, {_pct(best)}) by "
                   "more than its interval: on this split the networks' maps localize no better than what ignores "
                   "them.")
    if below:
        out.append("Below the whole frame: " + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in below) + ".")
    if between:
        out.append("Within the baselines' reach: " + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in between) + ".")
    return out


def _table2(s: Setup, t: Table) -> str:
    top1 = _ran(t.select("top1_loc_err"))
    if not top1:
        return "No network of Table 2 was evaluated in this run."
    gt = _networks(_ran(t.select("gt_known_loc_acc")))
    thr = _networks(_ran(t.select("best_threshold")))
    best, worst = _lowest(top1), _highest(top1)
    out = [f"In this run the top-1 localization error (right class and IoU >= 0.5) {_spread(top1, best, worst, 'rows')}."]
    none = [r for r in gt if r.ours <= 0.0]
    if none:
        out.append(f"{', '.join(map(_name, none))}: no ground-truth-class box reaches IoU 0.5 (GT-known "
                   "localization 0%).")
    out.append("GT-known localization (the ground-truth class's map, so classification does not count): "
               + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in gt) + ".")
    out += _against_baselines(gt, _baselines(t))
    if thr:
        lo, hi = _lowest(thr), _highest(thr)
        out.append(f"The map threshold at which boxes reach IoU 0.5 most often runs from {_num(lo.ours)}% "
                   f"({_name(lo)}) to {_num(hi.ours)}% ({_name(hi)}) "
                   f"of the map's range, against the paper's fixed 20%: "
                   f"{count_phrase(sum(r.ours > 20 for r in thr), len(thr), 'rows')} lie above 20% (broad maps, "
                   "whose 20% boxes are too large), "
                   f"{count_phrase(sum(r.ours < 20 for r in thr), len(thr), 'rows')} below (peaky maps, small boxes).")
    out += ["", "The paper's comparisons, image by image in this run:", *_claim_lines(t), ""] if t.claims else \
        ["", "The paper's comparisons are decided on the test split under three protocols (Table 2 on the test "
         "set, below).", ""]
    p = PAPER_TABLE2
    out.append(f"The paper (ILSVRC val, top-1 localization error): CAM on GoogLeNet-GAP "
               f"{p['cam', 'googlenet_gap'][1]:.1f} against Backprop on GoogLeNet {p['backprop', 'googlenet'][1]:.1f}, "
               f"and GAP against GMP {p['cam', 'googlenet_gap'][1]:.1f} vs {p['cam', 'googlenet_gmp'][1]:.1f}: the "
               "average pool rewards every discriminative part, the max pool only the strongest, so GMP boxes are "
               "smaller. GT-known localization, MaxBoxAccV2 and the content-free baselines are not in the paper "
               "(Choe et al. 2020 report vanilla CAM MaxBoxAccV2 of 60-64% on ImageNet).")
    return "\n".join(out)


def _table2_test(s: Setup, t: Table) -> str:
    chosen = _networks(_ran(t.select("gt_known_tau_val")))
    if not chosen:
        return "No network was evaluated on the test split in this run."
    main = {"model": s.main_gap, "method": "cam"}
    tau, at20, atc = (t.value(k, **main) for k in ("tau_val", "gt_known_tau_fixed", "gt_known_tau_val"))
    out = []
    if math.isfinite(atc):
        out.append(f"The main GAP network ({s.main_gap}) localizes {_pct(at20)} of the test images at the paper's "
                   f"20% threshold and {_pct(atc)} at the threshold chosen on the validation split ({_num(tau)}%).")
    out.append("With each network's threshold chosen on validation: "
               + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in chosen) + ".")
    out += _against_baselines(chosen, _baselines(t, "gt_known_tau_val"))
    out += ["", "The paper's comparisons, each decided under the paper's 20%, each side's own val-chosen threshold "
            "and MaxBoxAccV2 (intervals over training seeds and test images), then the main network against every "
            "baseline:"] + _claim_lines(t) + [""]
    out.append("Not in the paper, which fixes the threshold at 20% for its networks on ImageNet; Choe et al. "
               "(CVPR 2020) showed that the best threshold depends on the network and must be chosen on held-out "
               "data, and that with it vanilla CAM is hard to beat.")
    return "\n".join(out)


def _table3(s: Setup, t: Table) -> str:
    h, plain, bp = (t.value("top5_loc_err", key=k) for k in ("heuristic", "plain", "backprop"))
    if not any(math.isfinite(x) for x in (h, plain, bp)):
        return "Table 3 was not run in this profile."
    out = [f"In this run ({s.main_gap} on the test split), top-5 localization error: the tight/loose heuristic "
           f"{_pct(h)}, the plain top-5 boxes {_pct(plain)}, Backprop {_pct(bp)}."]
    if math.isfinite(h) and math.isfinite(plain):
        gain = plain - h
        out.append(f"The heuristic {'gains' if gain > 0 else 'loses'} {abs(gain):.1f} points against the plain "
                   "boxes." if gain else "The heuristic and the plain boxes tie.")
    out += ["", "Image by image:"] + _claim_lines(t) + [""]
    p = {k: v[-1] for k, v in PAPER_TABLE3.items()}
    out.append(f"The paper (GoogLeNet-GAP, ILSVRC test): the heuristic spends the five guesses on two box sizes for "
               f"the two most likely classes instead of one box each for five classes and gains "
               f"{p['plain'] - p['heuristic']:.1f} points ({p['plain']} -> {p['heuristic']}); Backprop "
               f"{p['backprop']}; fully supervised methods {min(p['googlenet_full'], p['overfeat_full']):.1f}-"
               f"{p['alexnet_full']:.1f}.")
    return "\n".join(out)


def frame_hit_rate(dataset) -> tuple[float, int]:
    """The fraction of a box dataset's images whose whole frame has IoU >= 0.5 with a ground-truth box (the
    content-free reference of a localization rate) and the number of images; from the stored boxes and image
    headers, nothing decoded (:func:`cam_lib.metrics.baselines.frame_hit_rate`)."""
    from ..metrics.baselines import frame_hit_rate as rate

    return rate(getattr(dataset, "samples", None))


def cub_reference(s: Setup) -> dict:
    """Chance (%), the whole frame's localization rate (%) and the number of test images of the setup's birds."""
    if s.cub_root is None:
        return {"chance": math.nan, "frame": math.nan, "n": 0, "species": 0}
    from ..data.cub import CUB200

    test = CUB200(s.cub_root, "test")
    rate, n = frame_hit_rate(test)
    return {"chance": 100.0 / test.num_classes, "frame": 100.0 * rate, "n": n, "species": test.num_classes}


def _table4(s: Setup, t: Table) -> str:
    full, crop, box = (t.value("svm_accuracy", key=k) for k in ("full", "cam_crop", "gt_box"))
    loc = t.value("cam_loc_acc", key="cam_loc_acc")
    if not any(math.isfinite(x) for x in (full, crop, box, loc)):
        return "Table 4 was not run in this profile (no birds)."
    ref = cub_reference(s)
    out = [f"In this run (linear SVM on the GAP features of {s.main_gap}): {_pct(full)} of the test birds are "
           f"classified right from the full image, {_pct(crop)} from the crop of the CAM box, {_pct(box)} from the "
           "ground-truth box" + (f"; guessing among the {ref['species']} species is right {_pct(ref['chance'])} "
                                 "of the time." if ref["species"] else ".")]
    hits = round(loc / 100 * ref["n"]) if math.isfinite(loc) and ref["n"] else None
    if math.isfinite(loc):
        if loc <= 0.0:
            birds = f"{ref['n']} test birds" if ref["n"] else "test birds"
            out.append(f"No CAM box of the {birds} reaches IoU 0.5 with the bird: the localization rate is 0%.")
        else:
            out.append(f"The CAM box (from the SVM's weights for the predicted species) has IoU >= 0.5 with the "
                       f"bird on {_pct(loc)} of the test images"
                       + (f" ({hits} of {ref['n']})" if hits is not None else "") + ".")
        if math.isfinite(ref["frame"]):
            rel = ("above" if loc > ref["frame"] else "below" if loc < ref["frame"] else "no better than")
            out.append(f"The whole frame as the box reaches {_pct(ref['frame'])}: the CAM boxes are {rel} it.")
    out += ["", "Image by image:"] + _claim_lines(t) + [""]
    p = {k: v[-1] for k, v in PAPER_TABLE4.items()}
    out.append(f"The paper (GoogLeNet-GAP on CUB-200-2011): the CAM box, found without box annotation, recovers much "
               f"of the gain of the ground-truth box ({p['full']} full image -> {p['cam_crop']} CAM crop -> "
               f"{p['gt_box']} box), and {p['cam_loc_acc']}% of its CAM boxes have IoU >= 0.5.")
    return "\n".join(out)


def transfer_classes(s: Setup) -> dict[str, int]:
    """The number of classes of each transfer dataset of the setup."""
    from ..data.transfer import build_transfer

    return {name: build_transfer(kind, root, split="test").num_classes for name, (kind, root) in s.transfer.items()}


def _at_chance(r: TableRow, chance: float, error: bool) -> bool:
    """Whether a row is no better than chance, decided by its 95% interval (not its point estimate): an error
    whose interval reaches up to chance, or an accuracy whose interval reaches down to it."""
    if not math.isfinite(chance):
        return False
    if error:
        return (r.ci_high if math.isfinite(r.ci_high) else r.ours) >= chance - 1e-9
    return (r.ci_low if math.isfinite(r.ci_low) else r.ours) <= chance + 1e-9


def _table5(s: Setup, t: Table) -> str:
    ran = _ran(t.select("svm_accuracy"))
    if not ran:
        return "Table 5 was not run in this profile."
    classes = transfer_classes(s)
    out = ["In this run (linear SVM, accuracy on the test images):"]
    for name in s.transfer:
        sel = sorted((r for r in ran if r.labels.get("dataset") == name), key=lambda r: r.ours, reverse=True)
        chance = 100.0 / classes[name] if classes.get(name) else math.nan
        low = [_name(r) for r in sel if _at_chance(r, chance, error=False)]
        out.append(f"- `{name}` ({classes.get(name, '?')} classes, chance {_pct(chance)}): "
                   + ", ".join(f"{_name(r)} {_pct(r.ours)}" for r in sel)
                   + (f"; no better than chance (the 95% interval reaches it): {', '.join(low)}" if low else "") + ".")
    out.append(f"The networks learned only the {s.num_classes} object classes of notebook 01: the transfer classes "
               "are new to them.")
    out += ["", "GAP features against fc7, image by image:"] + _claim_lines(t) + [""]
    p = PAPER_TABLE5
    out.append(f"The paper (networks trained on ILSVRC): the GAP features are as good as GoogLeNet's average pool and "
               f"better than AlexNet's fc7 on every dataset (gap / ave pool / fc7: Scene15 {p['gap'][1][2]:.2f} / "
               f"{p['avepool'][1][2]:.2f} / {p['fc7'][1][2]:.2f}, Caltech101 {p['gap'][1][4]:.2f} / "
               f"{p['avepool'][1][4]:.2f} / {p['fc7'][1][4]:.2f}): the GAP "
               "layer does not cost generality.")
    return "\n".join(out)


def _values_line(t: Table, rows: list[TableRow], *keys: str) -> str:
    """``"row a / b / c; ..."``: each row's value, then the same row's value under each of ``keys`` ("—" where the
    row has none)."""
    more = [{_name(r): r for r in _ran(t.select(key))} for key in keys]
    return "; ".join(f"{_name(r)} " + " / ".join([_pct(r.ours)] + [_pct(m[_name(r)].ours) if _name(r) in m else "—"
                                                                  for m in more]) for r in rows)


def _table7(s: Setup, t: Table) -> str:
    rows = _ran(t.select("gt_known_tau_val"))
    if not rows:
        return "No map method was evaluated on the test split in this run."
    px = _ran(t.select("pxap"))
    out = [f"On the test split, each method with its own threshold chosen on validation, GT-known localization / "
           f"MaxBoxAccV2{' / PxAP' if px else ''}: "
           + _values_line(t, rows, "maxboxacc_v2", *(["pxap"] if px else [])) + "."]
    out += ["", "CAM against each method on the same network, under the paper's 20%, each method's own val-chosen "
            "threshold and MaxBoxAccV2 (intervals over the network's training seeds and the test images):"]
    out += _claim_lines(t) + [""]
    out.append("Not in the paper. Choe et al. (CVPR 2020) found that, once each method's threshold is chosen on "
               "held-out data, no WSOL training method of 2016-2019 beat vanilla CAM clearly; they compared training "
               "methods, each with its own network, not post-hoc map methods on one network as here. On a GAP network "
               "Grad-CAM and XGrad-CAM are CAM without its negative part, so a difference from CAM can only come from "
               "that cut (see the table's notes).")
    return "\n".join(out)


def _table7_real(s: Setup, t: Table) -> str:
    rows = _ran(t.select("gt_known_tau_val"))
    if not rows:
        return "No map method was evaluated on the real images in this run."
    out = ["On the second half of the real images, each row's threshold (and each content-free box) chosen on the "
           "first half, GT-known localization / MaxBoxAccV2: " + _values_line(t, rows, "maxboxacc_v2") + ".", "",
           "Each comparison, image by image (intervals over the second half's images):"] + _claim_lines(t) + [""]
    out.append("Not in the paper. These are the networks' released ImageNet weights, unchanged, on real photographs: "
               "what CAM's margin over boxes that ignore the image and over a saliency that ignores the network is "
               "on ILSVRC itself, with the same code and protocol as the embedded benchmark's Table 2 on the test "
               "split: the margin an embedded benchmark that keeps ILSVRC's object geometry can be compared with.")
    return "\n".join(out)


def _table7_floor(s: Setup, t: Table) -> str:
    rows = _ran(t.select("floor"))
    if not rows:
        return "No network was measured in this run."
    share = {_name(r): r for r in _ran(t.select("floor_share"))}
    common = {_name(r): r for r in _ran(t.select("common"))}
    out = ["How far the ground-truth class's raw CAM reaches below zero, as a share of its maximum: " + "; ".join(
               f"{_name(r)}: mean floor {_pct(r.ours)}, "
               f"{_pct(share[_name(r)].ours) if _name(r) in share else '—'} of the maps below -25%, the "
               f"classifier's common part {_pct(common[_name(r)].ours) if _name(r) in common else '—'}"
               for r in rows) + "."]
    out.append("")
    out.append("Not in the paper. A softmax classifier's CAM is defined only up to one map added to every class: the "
               "part of the classifier common to all classes changes no prediction, and no step of training, so it "
               "keeps what the new layer's random start gave it until weight decay wears it away. A long ImageNet "
               "training does (the released networks' rows); cam_lib.train removes it from every network it trains "
               "(cam_lib.models.centre_classifier_). The floor that remains is each class's own negative evidence. "
               "The released 1000-class networks have almost none, so min-max normalisation leaves their 20% "
               "threshold on positive evidence and Grad-CAM (CAM without its negative part) boxes the same as CAM on "
               "real images (table7_real). Where the embedded benchmark's 10-class heads keep a floor, min-max "
               "normalisation moves each image's effective threshold by its own floor: that is where CAM and "
               "Grad-CAM differ on the embedded test split (table7). A property of these heads, measured here; not "
               "of CAM on ImageNet.")
    return "\n".join(out)


def _table7_speed(s: Setup, t: Table) -> str:
    rows = _ran(t.select("images_per_s"))
    vs = {_name(r): r.ours for r in _ran(t.select("time_vs_cam"))}
    if not rows:
        return "No timing in this run."
    return ("Images per second of each method on the main GAP network, side by side in one process on this run's "
            "machine: " + ", ".join(f"{_name(r)} {r.ours:.1f} ({vs.get(_name(r), math.nan):.1f}x CAM's time per "
                                    "image)" for r in rows)
            + ". CAM needs the forward pass that classifies the image and one matrix product; the gradient methods "
            "add a backward pass per mapped class; Backprop's backward pass reaches the image.")


def short_errors(shell=None) -> bool:
    """In a notebook (IPython), show a :class:`~cam_lib.errors.BadInputError` (a bad parameter, a missing network:
    :class:`NotTrainedError`) as its one-line message instead of a traceback through library source; the cell
    still fails (the kernel reports the error, papermill and nbval stop on it). Other exceptions keep their
    tracebacks. The notebooks call it in their set-up cell: it changes the kernel's display, so it is theirs to
    ask for, never done on import. Returns whether a shell was found."""
    if shell is None:   # IPython puts get_ipython in the builtins of its kernels and shells
        import builtins

        shell = getattr(builtins, "get_ipython", lambda: None)()
    if shell is None:
        return False

    def one_line(shell, etype, value, tb, tb_offset=None):
        stb = [f"{etype.__name__}: {value}"]
        # IPython calls a custom handler instead of showing the error: show it, with a one-line traceback (the
        # kernel's override sends it as the cell's error output, which papermill and nbval read)
        shell._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((BadInputError,), one_line)
    return True

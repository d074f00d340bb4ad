"""Tables 1-5 of the paper from the series' cached measurements (:mod:`cam_lib.series.artifacts`), the paper's
numbers beside ours (:mod:`cam_lib.results`), written to ``results/tables/``. Each table function returns a
:class:`~cam_lib.results.Table`: its rows (:class:`~cam_lib.results.TableRow`, each with the machine key of its
metric), the claims its numbers decide (:class:`~cam_lib.results.Claim`) and its notes, which
:mod:`cam_lib.series.texts` and :func:`cam_lib.series.figures.table_figure` read as they are (no file read back).
Reading a table never trains: a network the setup has not trained raises
:class:`~cam_lib.series.artifacts.NotTrainedError`.

Metric keys: Table 1 ``top1_cls_err``, ``top5_cls_err``; Table 2 ``top1_loc_err``, ``top5_loc_err``,
``gt_known_loc_acc``, ``maxboxacc_v2``, ``best_threshold``; Table 2 on the test split ``gt_known_tau_fixed`` (the
paper's 20%), ``tau_val``, ``gt_known_tau_val``, ``maxboxacc_v2``; the content-free boxes of both
``baseline:<name>`` (``name`` a key of :data:`~cam_lib.series.artifacts.BASELINES`); Table 3 ``top5_loc_err``;
Table 4 ``svm_accuracy`` and ``cam_loc_acc``; Table 5 ``svm_accuracy``."""

from __future__ import annotations

import math

import numpy as np

from ..metrics import paired_difference, verdict
from ..results import (PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE4, PAPER_TABLE5, Claim, Table, TableRow,
                       paper_table5)
from .artifacts import (BASELINES, BaselinesUnavailableError, NotTrainedError, baseline_boxes, cub_evaluation,
                        evaluation, heuristic_evaluation, transfer_evaluation)
from .setups import NO_CAM_MODELS, PRETRAINED_GAP_MODELS, TABLE1_MODELS, Setup, environment, seed_variant

__all__ = ["TABLE5_FEATURES", "table1", "table2", "table2_test", "table3", "table4", "table5"]

TABLE5_FEATURES = {"fc7": "alexnet", "avepool": "googlenet", "gap": "googlenet_gap"}
# Table 5's rows: (feature, network); the paper's three, then the same GAP feature of the fine-tuned ImageNet network
TABLE5_ROWS = (*TABLE5_FEATURES.items(), ("gap", "efficientnet_lite0_gap"))
TABLE1_ROWS = PRETRAINED_GAP_MODELS + TABLE1_MODELS
NAN = math.nan


def _pct(x: float | None) -> float:
    return NAN if x is None else 100.0 * x


def _row(labels: dict, metric: str, ev, attr: str, paper: float, key: str | None = None) -> TableRow:
    """A row of our number ``attr`` of evaluation ``ev`` (None: not run) with its 95% interval over images; its
    metric key is ``key`` (default ``attr``)."""
    key = key or attr
    if ev is None:
        return TableRow(labels, metric, NAN, paper, key=key)
    ci = ev.interval(attr) if attr in ev.per_image else None
    return TableRow(labels, metric, _pct(getattr(ev, attr)), paper, _pct(ci and ci.low), _pct(ci and ci.high),
                    key=key)


def _method(model: str) -> str:
    return "backprop" if model in NO_CAM_MODELS else "cam"


def _outcomes(s: Setup, model: str, key: str, which: str = "val", method: str | None = None) -> list[np.ndarray]:
    """Per-image outcomes ``key`` of ``model`` on split ``which``, one array per training seed of the setup (the
    setup's own seed first; the extra seeds only for the networks of ``s.seeded`` whose checkpoints exist); [] when
    ``model`` is not in the setup."""
    if model not in s.models:
        return []
    method = method or _method(model)
    out = [np.asarray(evaluation(s, model, which, method).per_image[key], float)]
    if model in s.seeded:
        for k in s.extra_seeds:
            try:
                out.append(np.asarray(evaluation(seed_variant(s, k), model, which, method).per_image[key], float))
            except NotTrainedError:
                pass
    return out


def _paired_claim(table: str, text: str, names: tuple[str, str], a: list, b: list, paper_sign: int,
                  what: str = "") -> Claim:
    """A claim decided by the paired difference ``a - b`` of per-image outcomes (lists over seeds, see
    :func:`_outcomes`): both members' seeds are matched pairwise (the seeds both have), the interval is over the
    per-image outcomes averaged across those seeds, and each seed's difference is listed."""
    seeds = min(len(a), len(b))
    if seeds == 0:
        return Claim(table, text, "not run in this profile", "—")
    mean_a, mean_b = np.mean(a[:seeds], 0), np.mean(b[:seeds], 0)
    diff = paired_difference(mean_a, mean_b)
    ours = (f"{names[0]} {100 * mean_a.mean():.1f} vs {names[1]} {100 * mean_b.mean():.1f}{what}: difference "
            f"{diff.format()} points")
    spread = "" if seeds == 1 else f"{seeds} seeds: " + ", ".join(f"{100 * (x.mean() - y.mean()):+.1f}"
                                                                  for x, y in zip(a[:seeds], b[:seeds]))
    return Claim(table, text, ours, verdict(diff, paper_sign), spread)


def table1(s: Setup) -> Table:
    """Table 1: top-1/top-5 classification error of every network of the setup; claims: GAP against FC."""
    rows = []
    for model in TABLE1_ROWS:
        name, p1, p5 = PAPER_TABLE1[model]
        ev = evaluation(s, model, method=_method(model)) if model in s.models else None
        for metric, key, paper in (("top-1 cls err", "top1_cls_err", p1), ("top-5 cls err", "top5_cls_err", p5)):
            rows.append(_row({"row": name, "model": model}, metric, ev, key, paper))
    claims = []
    for gap, fc in (("googlenet_gap", "googlenet"), ("alexnet_gap", "alexnet"), ("vgg16_gap", "vgg16")):
        claims.append(_paired_claim("table1", f"Replacing the FC layers by GAP ({gap} vs {fc}) costs some "
                                    f"classification accuracy (paper: {PAPER_TABLE1[gap][1]} vs {PAPER_TABLE1[fc][1]} "
                                    "top-1 error)", (gap, fc), _outcomes(s, gap, "top1_cls_err"),
                                    _outcomes(s, fc, "top1_cls_err"), +1, " top-1 error"))
    return _written(s, Table("table1", rows, claims, _not_run_note(s)))


def table2(s: Setup) -> Table:
    """Table 2: CAM localization error of the GAP/GMP networks (and of GoogLeNet and NIN, which already end in a
    global average pool), Backprop on the FC networks, plus GT-known localization and MaxBoxAccV2 columns, and the
    trivial baselines; claims: CAM against Backprop, GAP against GMP."""
    rows, first = [], None
    for (method, model), (name, p1, p5) in PAPER_TABLE2.items():
        ev = evaluation(s, model, method=method) if model in s.models else None
        first = first or ev
        labels = {"row": name, "method": method, "model": model}
        for metric, key, paper in (("top-1 loc err", "top1_loc_err", p1), ("top-5 loc err", "top5_loc_err", p5),
                                   ("GT-known loc acc", "gt_known_loc_acc", NAN),
                                   ("MaxBoxAccV2", "maxboxacc_v2", NAN)):
            rows.append(_row(labels, metric, ev, key, paper))
        # the map threshold that boxes best at IoU 0.5 (the paper fixes 20%)
        rows.append(TableRow(labels, "best threshold at IoU 0.5 (% of max)",
                             _pct(ev and ev.best_threshold[0.5]), 20.0, key="best_threshold"))
    rows += _baseline_rows(first)
    notes = ("GT-known localization and MaxBoxAccV2 (Choe et al. "
             "2020) are not in the paper; they separate localization from classification. The last metric is the "
             "map threshold (percent of the map's range) at which boxes reach IoU 0.5 most often, against the "
             "paper's fixed 20%: far above 20% means broad maps, whose 20% boxes approach the whole frame. The "
             "baseline rows use no image content (boxes chosen on the training split's boxes only), scored on the "
             "same images by the same rule; ci_low/ci_high: 95% bootstrap interval over images. "
             + _not_run_note(s) + _baselines_note(s))
    p2 = {k: f"{row[1]:.1f}" for k, row in PAPER_TABLE2.items()}
    loc = "top1_loc_err"
    claims = [
        _paired_claim("table2", "CAM on GoogLeNet-GAP localizes better than Backprop on GoogLeNet (paper: "
                      f"{p2['cam', 'googlenet_gap']} vs {p2['backprop', 'googlenet']} top-1 loc err)", ("CAM", "Backprop"),
                      _outcomes(s, "googlenet_gap", loc), _outcomes(s, "googlenet", loc, method="backprop"), -1,
                      " top-1 loc err"),
        _paired_claim("table2", "CAM on AlexNet-GAP localizes better than Backprop on AlexNet at top-5 (paper: "
                      f"{PAPER_TABLE2['cam', 'alexnet_gap'][2]:.1f} vs {PAPER_TABLE2['backprop', 'alexnet'][2]:.1f}; "
                      "at top-1 the paper's one exception)", ("CAM", "Backprop"),
                      _outcomes(s, "alexnet_gap", "top5_loc_err"), _outcomes(s, "alexnet", "top5_loc_err"), -1,
                      " top-5 loc err"),
        _paired_claim("table2", "CAM localizes better than Backprop on the same network (EfficientNet-Lite0-GAP; "
                      "the paper's direction on GoogLeNet)", ("CAM", "Backprop"),
                      _outcomes(s, "efficientnet_lite0_gap", loc, method="cam")[:1],
                      _outcomes(s, "efficientnet_lite0_gap", loc, method="backprop")[:1], -1, " top-1 loc err"),
        _paired_claim("table2", "GAP localizes better than GMP (GoogLeNet-GAP vs GoogLeNet-GMP, paper: "
                      f"{p2['cam', 'googlenet_gap']} vs {p2['cam', 'googlenet_gmp']} top-1 loc err)", ("GAP", "GMP"),
                      _outcomes(s, "googlenet_gap", loc), _outcomes(s, "googlenet_gmp", loc), -1, " top-1 loc err"),
        _paired_claim("table2", "GAP localizes better than GMP on EfficientNet-Lite0 (the paper's direction on "
                      "GoogLeNet)", ("GAP", "GMP"), _outcomes(s, "efficientnet_lite0_gap", loc),
                      _outcomes(s, "efficientnet_lite0_gmp", loc), -1, " top-1 loc err"),
    ]
    return _written(s, Table("table2", rows, claims, notes))


def _baseline_rows(ev, metric: str = "GT-known loc acc") -> list[TableRow]:
    """Table 2's trivial baselines scored on the images of evaluation ``ev`` (None, or no baselines: not
    measured; :func:`_baselines_note` says why); metric keys ``baseline:<name>``."""
    rows = []
    for key, name in BASELINES.items():   # no image content: what "localizes" means on this split
        ci = ev.interval(f"baseline:{key}") if ev is not None and f"baseline:{key}" in ev.per_image else None
        rows.append(TableRow({"row": name, "method": "fixed box", "model": "-"}, metric, _pct(ci and ci.estimate),
                             NAN, _pct(ci and ci.low), _pct(ci and ci.high), key=f"baseline:{key}"))
    return rows


def _baselines_note(s: Setup) -> str:
    """Why the baseline rows have no number (the boxes could not be chosen), or "" when they could."""
    try:
        baseline_boxes(s)
    except BaselinesUnavailableError as err:
        return f" The baseline rows were not measured: {err.reason}."
    return ""


def _written(s: Setup, table: Table) -> Table:
    """``table``, written to ``results/tables/`` (CSV, Markdown, claims) with the run's header."""
    table.write(s.results, environment(s))
    return table


def table2_test(s: Setup) -> Table:
    """Table 2 on the TEST split with the protocol of Choe et al. (CVPR 2020): the CAM threshold that gives the
    best GT-known localization on the validation split, applied unchanged to the test split, beside the paper's
    fixed 20% and MaxBoxAccV2; the trivial baselines on the same test images. Claims: CAM (the main GAP network,
    the validation-chosen threshold) against each baseline, paired over the test images."""
    from ..metrics import bootstrap_mean

    rows, first, main_hits = [], None, None
    for (method, model), (name, _, _) in PAPER_TABLE2.items():
        labels = {"row": name, "method": method, "model": model}
        if model not in s.models:
            rows += [TableRow(labels, m, NAN, NAN, key=k) for m, k in (
                ("GT-known loc acc, tau 0.2", "gt_known_tau_fixed"), ("tau chosen on val (%)", "tau_val"),
                ("GT-known loc acc, tau chosen on val", "gt_known_tau_val"), ("MaxBoxAccV2", "maxboxacc_v2"))]
            continue
        val, ev = evaluation(s, model, "val", method), evaluation(s, model, "test", method)
        first = first or ev
        tau = val.chosen_threshold()
        hits = ev.gt_known_at(tau)
        if model == s.main_gap and method == "cam":
            main_hits, main_tau = hits, tau
        ci = bootstrap_mean(hits)
        rows += [_row(labels, "GT-known loc acc, tau 0.2", ev, "gt_known_loc_acc", NAN, key="gt_known_tau_fixed"),
                 TableRow(labels, "tau chosen on val (%)", _pct(tau), 20.0, key="tau_val"),
                 TableRow(labels, "GT-known loc acc, tau chosen on val", _pct(ci.estimate), NAN, _pct(ci.low),
                          _pct(ci.high), key="gt_known_tau_val"),
                 _row(labels, "MaxBoxAccV2", ev, "maxboxacc_v2", NAN)]
    rows += _baseline_rows(first)
    notes = ("Not in the paper: the protocol of Choe et al. "
             "(CVPR 2020). The paper fixes the CAM threshold at 20% of the map's range, a value set for its "
             "networks on ImageNet; here each network's threshold is the one with the best GT-known localization "
             "on the validation split (Table 2's images), applied unchanged to the test split (Table 3's images). "
             "The paper column of the threshold row is its fixed 20%. GT-known localization: the ground-truth "
             "class's map, the box of its largest component, IoU >= 0.5. Baselines: boxes chosen on the training "
             "split's boxes only, scored on the same test images. ci_low/ci_high: 95% bootstrap interval over "
             "images." + _baselines_note(s))
    claims = []
    for key, name in BASELINES.items():
        measured = first is not None and main_hits is not None and f"baseline:{key}" in first.per_image
        base = [np.asarray(first.per_image[f"baseline:{key}"], float)] if measured else []
        claims.append(_paired_claim("table2_test", f"CAM ({s.main_gap}, threshold chosen on val) localizes better "
                                    f"than the {name[0].lower() + name[1:]} on the test split (not in the paper: "
                                    "that CAM localizes at all)", ("CAM", "baseline"),
                                    [main_hits] if main_hits is not None else [], base, +1,
                                    f" GT-known loc acc (tau {main_tau:.2f})" if main_hits is not None else ""))
    return _written(s, Table("table2_test", rows, claims, notes))


def table3(s: Setup, model: str | None = None, backprop_model: str | None = None) -> Table:
    """Table 3: top-5 localization error on the test split: the heuristic and the plain top-5 boxes of ``model``
    (default: :attr:`Setup.main_gap`), Backprop on ``backprop_model`` (default: the same network when it is a
    fine-tuned ImageNet network, else GoogLeNet as in the paper); the fully supervised rows are the paper's only."""
    model = model or s.main_gap
    backprop_model = backprop_model or (model if model in s.fine_tuned else "googlenet")
    h = heuristic_evaluation(s, model) if model in s.models else None
    bp = evaluation(s, backprop_model, which="test", method="backprop") if backprop_model in s.models else None
    ours = {"heuristic": (h, "heuristic_top5_loc_err"), "plain": (h, "plain_top5_loc_err"),
            "backprop": (bp, "top5_loc_err")}
    rows = [_row({"key": key, "row": _ours_name(name, key, model, backprop_model), "supervision": sup},
                 "top-5 loc err", *ours.get(key, (None, "")), paper, key="top5_loc_err")
            for key, (name, sup, paper) in PAPER_TABLE3.items()]
    notes = (f"Heuristic and plain rows: {model}; Backprop: "
             f"{backprop_model}; the paper's column: GoogLeNet-GAP and Backprop on GoogLeNet. Fully supervised "
             "rows are the paper's (we train no box regressor). "
             + ("ILSVRC test boxes are not public: on real data this split is the one given as test_root."
                if s.data != "embedded" else "Test split: objects_test."))
    p3 = {k: f"{row[-1]:.1f}" for k, row in PAPER_TABLE3.items()}
    per = (lambda key: [np.asarray(h.per_image[key], float)]) if h is not None else (lambda key: [])
    return _written(s, Table("table3", rows, [
        _paired_claim("table3", f"The tight/loose heuristic beats the plain top-5 boxes (paper: {p3['heuristic']} "
                      f"vs {p3['plain']} top-5 loc err)", ("heuristic", "plain"), per("heuristic_top5_loc_err"),
                      per("plain_top5_loc_err"), -1, " top-5 loc err"),
        _paired_claim("table3", f"CAM's plain top-5 boxes beat Backprop (paper: {p3['plain']} vs {p3['backprop']} "
                      "top-5 loc err)", ("CAM", "Backprop"), per("plain_top5_loc_err"),
                      [np.asarray(bp.per_image["top5_loc_err"], float)] if bp is not None else [], -1,
                      " top-5 loc err")], notes))


def _display(model: str) -> str:
    """A network's name as the paper's tables write it (EfficientNet-Lite0-GAP, GoogLeNet-GAP, ...)."""
    return PAPER_TABLE2.get(("cam", model), PAPER_TABLE1.get(model, (model,)))[0]


def _ours_name(name: str, key: str, model: str, backprop_model: str | None = None) -> str:
    """A row label of Tables 3-4 naming the network this run measured (the paper's rows name GoogLeNet-GAP; rows
    without our number keep the paper's name)."""
    if key == "backprop" and backprop_model is not None:
        return f"Backprop on {_display(backprop_model)}"
    return name.replace("GoogLeNet-GAP", _display(model)) if "GoogLeNet-GAP" in name else name


def _score_row(labels: dict, metric: str, score: float | None, outcomes, paper: float, key: str) -> TableRow:
    """A row of a score (a fraction; None: not run) with the 95% bootstrap interval of its per-image outcomes;
    metric key ``key``."""
    from ..metrics import bootstrap_mean

    if score is None:
        return TableRow(labels, metric, NAN, paper, key=key)
    ci = bootstrap_mean(outcomes) if outcomes else None
    return TableRow(labels, metric, _pct(score), paper, _pct(ci and ci.low), _pct(ci and ci.high), key=key)


def table4(s: Setup, model: str | None = None, batch_size: int = 32) -> Table:
    """Table 4: linear SVM on ``model``'s GAP features of CUB images (full, CAM crop, ground-truth box) and the
    fraction of test images whose CAM box has IoU >= 0.5 (the paper's 41.0%); ``model``: default
    :attr:`Setup.main_gap`. Claims: the CAM crop against the full image, the ground-truth box against the crop."""
    model = model or s.main_gap
    ours = cub_evaluation(s, model, batch_size) if model in s.models else {}
    per = ours.get("per_image", {})
    rows = [_score_row({"key": key, "row": _ours_name(name, key, model), "annotation": ann}, "accuracy",
                       ours.get(key), per.get(key), paper, "cam_loc_acc" if key == "cam_loc_acc" else "svm_accuracy")
            for key, (name, ann, paper) in PAPER_TABLE4.items()]
    notes = (f"Features: {model} trained in notebook 01 (the "
             "paper's column: GoogLeNet-GAP), "
             "linear SVM (C by 3-fold CV on train). The CAM of a bird uses the weights of the linear SVM trained on "
             "the full images' GAP features, for the species the SVM predicts (the paper's generic localization: "
             "the network has no bird classes). ci_low/ci_high: 95% bootstrap interval over test images. Rows "
             "without our number are other methods of the paper.")
    p4 = {k: f"{row[-1]:.1f}" for k, row in PAPER_TABLE4.items()}
    get = (lambda key: [np.asarray(per[key], float)]) if per else (lambda key: [])
    return _written(s, Table("table4", rows, [
        _paired_claim("table4", f"Features of the CAM crop beat the full image (paper: {p4['cam_crop']} vs "
                      f"{p4['full']} accuracy)", ("crop", "full"), get("cam_crop"), get("full"), +1, " accuracy"),
        _paired_claim("table4", f"The ground-truth box beats the CAM crop (paper: {p4['gt_box']} vs "
                      f"{p4['cam_crop']} accuracy)", ("BBox", "crop"), get("gt_box"), get("cam_crop"), +1,
                      " accuracy")], notes))


def table5(s: Setup, batch_size: int = 32) -> Table:
    """Table 5: linear SVM on fc7 of AlexNet, the average pool of GoogLeNet and the GAP of GoogLeNet-GAP (and of
    the fine-tuned EfficientNet-Lite0-GAP), over the setup's transfer datasets (folds averaged); claims: GAP
    features against fc7 on each dataset."""
    rows, correct = [], {}
    for feature, model in TABLE5_ROWS:
        row = PAPER_TABLE5[feature][0] if model == TABLE5_FEATURES.get(feature) else \
            f"{feature} from {PAPER_TABLE2.get(('cam', model), (model,))[0]}"
        paper = paper_table5(feature, "-") if model != TABLE5_FEATURES.get(feature) else None
        for name in s.transfer:
            result = transfer_evaluation(s, model, feature, name, batch_size) if model in s.models else {}
            correct[model, name] = result.get("correct")
            rows.append(_score_row({"row": row, "feature": feature, "model": model, "dataset": name}, "accuracy",
                                   result.get("score"), result.get("correct"),
                                   paper_table5(feature, name) if paper is None else paper, "svm_accuracy"))
    notes = ("On the embedded benchmark the paper column is its "
             "Scene15 value for `scenes` and its Caltech101 value for `things`. The networks were trained on the "
             "objects suite only (notebook 01); the transfer classes are new to them. ci_low/ci_high: 95% "
             "bootstrap interval over test images (all folds).")
    get = lambda model, name: [np.asarray(correct[model, name], float)] if correct.get((model, name)) else []  # noqa: E731
    return _written(s, Table("table5", rows, [
        _paired_claim("table5", f"Table 5 ({name}): GAP features of GoogLeNet-GAP beat fc7 of AlexNet (paper: on "
                      "every dataset)", ("gap", "fc7"), get("googlenet_gap", name), get("alexnet", name), +1,
                      " accuracy") for name in s.transfer], notes))


def _not_run_note(s: Setup) -> str:
    missing = [m for m in TABLE1_MODELS if m not in s.models]
    return (f"Not run in profile {s.profile} (rows without our number): {', '.join(missing)}; "
            "run the `full` profile or pass `models`.") if missing else ""

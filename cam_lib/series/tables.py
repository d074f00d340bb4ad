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

from ..errors import BadInputError
from ..methods import METHODS
from ..metrics import (mean_interval, paired_difference, paired_difference_seeds, protocol_verdict, verdict,
                       wilson)
from ..results import (PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE4, PAPER_TABLE5, Claim, Table, TableRow,
                       paper_table5)
from ..runs import SHARED_SAMPLE, shown_path
from .artifacts import (BASELINES, IMAGE_BASELINES, BaselinesUnavailableError, baseline_boxes,
                        cub_evaluation, evaluation, heuristic_evaluation, image_baseline, transfer_evaluation)
from .setups import (NO_CAM_MODELS, PRETRAINED_GAP_MODELS, TABLE1_MODELS, Setup, dataset, environment, gmp_twin,
                     halves, images_key, seed_variant)

__all__ = ["TABLE5_FEATURES", "table1", "table2", "table2_test", "table3", "table4", "table5", "table7",
           "table7_real", "table7_floor", "method_speeds", "real_sample_root", "SHARED_SAMPLE", "SUCCESSOR_TITLES"]

TABLE5_FEATURES = {"fc7": "alexnet", "avepool": "googlenet", "gap": "googlenet_gap"}
# Table 5's rows: (feature, network); the paper's three, then the same GAP feature of the main GAP network when it
# is a fine-tuned ImageNet network (_table5_rows)
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


def _seeds(s: Setup, model: str) -> list[Setup]:
    """The setup and, for the networks trained with several seeds (:attr:`Setup.seeded_models`), its seed
    variants whose checkpoints exist."""
    out = [s]
    if model in s.seeded_models:
        out += [seed_variant(s, k) for k in s.extra_seeds
                if (seed_variant(s, k).checkpoints / model / "model.pt").exists()]
    return out


def _outcomes(s: Setup, model: str, key: str, which: str = "val", method: str | None = None) -> list[np.ndarray]:
    """Per-image outcomes ``key`` of ``model`` on split ``which``, one array per training seed of the setup (the
    setup's own seed first, then the extra seeds of :attr:`Setup.seeded_models` whose checkpoints exist); [] when
    ``model`` is not in the setup."""
    if model not in s.models:
        return []
    method = method or _method(model)
    return [np.asarray(evaluation(v, model, which, method).per_image[key], float) for v in _seeds(s, model)]


def _paired_claim(table: str, text: str, names: tuple[str, str], a: list, b: list, paper_sign: int,
                  what: str = "", able: bool = True, unable: str = "", extra: str = "") -> Claim:
    """A claim decided by the difference ``a - b`` of per-image outcomes (lists over training seeds, see
    :func:`_outcomes`; the seeds both have are matched pairwise) with an interval that covers the seed-to-seed
    and the image-to-image variation (:func:`cam_lib.metrics.paired_difference_seeds`). ``able``: whether the
    comparison can say anything (e.g. one member classifies better than chance); else "not testable here", with
    ``unable`` saying why. ``extra``: more words for the claim's line."""
    seeds = min(len(a), len(b))
    if seeds == 0:
        return Claim(table, text, "not run in this profile", "—")
    diff = paired_difference_seeds(np.stack(a[:seeds]), np.stack(b[:seeds]))
    ours = (f"{names[0]} {100 * np.mean(a[:seeds]):.1f} vs {names[1]} {100 * np.mean(b[:seeds]):.1f}{what}: "
            f"difference {diff.format()} points" + ("" if able else f"; {unable}") + extra)
    return Claim(table, text, ours, verdict(diff, paper_sign) if able else "not testable here",
                 _seed_line(a[:seeds], b[:seeds]))


def _seed_line(a: list, b: list) -> str:
    """Each seed's difference of the means (percentage points), for a claim over several seeds."""
    return "" if len(a) < 2 else f"{len(a)} seeds: " + ", ".join(f"{100 * (x.mean() - y.mean()):+.1f}"
                                                                for x, y in zip(a, b))


# The protocols a localization claim is decided under (issue 21): the paper's fixed threshold, each side's own
# threshold chosen on the validation split, and the threshold-free MaxBoxAccV2; all on the TEST split.
PROTOCOLS = {"gt_known_tau_fixed": "GT-known at tau 0.2", "gt_known_tau_val": "GT-known at its own val tau",
             "maxboxacc_v2": "MaxBoxAccV2"}


def _test_outcomes(s: Setup, model: str, method: str) -> dict[str, list[np.ndarray]] | None:
    """Each protocol's per-image outcomes of ``model`` with ``method`` on the test split, one array per training
    seed (:func:`_seeds`; the threshold of ``gt_known_tau_val`` chosen on that seed's validation split); None when
    not run."""
    if model not in s.models:
        return None
    out: dict[str, list[np.ndarray]] = {key: [] for key in PROTOCOLS}
    for v in _seeds(s, model):
        val, test = evaluation(v, model, "val", method), evaluation(v, model, "test", method)
        out["gt_known_tau_fixed"].append(np.asarray(test.per_image["gt_known_loc_acc"], float))
        out["gt_known_tau_val"].append(test.gt_known_at(val.chosen_threshold()))
        out["maxboxacc_v2"].append(np.asarray(test.per_image["maxboxacc_v2"], float))
    return out


# The protocols a claim against a baseline is decided under: GT-known at the paper's 20% and at each side's own
# val-chosen threshold (a content-free box has no threshold: the same hits under both; MaxBoxAccV2 does not apply).
BASELINE_PROTOCOLS = ("gt_known_tau_fixed", "gt_known_tau_val")


def _baselines(s: Setup) -> dict[str, dict[str, np.ndarray]]:
    """Every baseline measured on the test split, by name: its per-image GT-known hits under each protocol of
    :data:`BASELINE_PROTOCOLS` (image baselines at 20% and at their val-chosen threshold); {} when none."""
    found = {}
    main = s.main_gap
    if main not in s.models:
        return found
    test = evaluation(s, main, "test")
    for key, name in BASELINES.items():
        if f"baseline:{key}" in test.per_image:
            hits = np.asarray(test.per_image[f"baseline:{key}"], float)
            found[name] = {"gt_known_tau_fixed": hits, "gt_known_tau_val": hits}
    for method, name in IMAGE_BASELINES.items():
        val, test = image_baseline(s, method, "val"), image_baseline(s, method, "test")
        if val is not None and test is not None:
            found[name] = {"gt_known_tau_fixed": np.asarray(test.per_image["gt_known_loc_acc"], float),
                           "gt_known_tau_val": test.gt_known_at(val.chosen_threshold())}
    return found


def _best_baseline(s: Setup) -> tuple[str, dict[str, np.ndarray]] | None:
    """The baseline that localizes the most test images (GT-known; image baselines at their val-chosen
    threshold: each at its best), by name, with its per-image hits under each protocol (:func:`_baselines`); None
    when no baseline was measured."""
    found = _baselines(s)
    if not found:
        return None
    best = max(found, key=lambda name: found[name]["gt_known_tau_val"].mean())
    return best, found[best]


def _localizes(outcomes: dict | None, best: tuple[str, dict] | None) -> bool:
    """Whether a network localizes better than the best baseline: its GT-known at its val-chosen tau on the test
    split (averaged over its seeds) minus the baseline's, paired over images, has an interval above 0."""
    if outcomes is None or best is None:
        return outcomes is not None
    return paired_difference(np.mean(outcomes["gt_known_tau_val"], 0), best[1]["gt_known_tau_val"]).low > 0


def _baseline_claim(table: str, text: str, name: str, ours: dict | None, base: dict | None, extra: str = "",
                    not_run: str = "not run in this profile") -> Claim:
    """A claim "``name`` localizes better than a baseline" on the same test images, decided under each protocol of
    :data:`BASELINE_PROTOCOLS` (``ours``: protocol -> per-image outcomes, one array per training seed, averaged
    over the seeds image by image; ``base``: protocol -> the baseline's per-image hits): the verdict is one
    protocol's only when both give it, "depends on the protocol" when they differ. ``extra``: more words for the
    claim's line; ``not_run``: what the line says when either side was not measured."""
    if ours is None or base is None or not ours["gt_known_tau_val"]:
        return Claim(table, text, not_run, "—")
    parts, verdicts = [], {}
    for key in BASELINE_PROTOCOLS:
        x, y = np.mean(ours[key], 0), np.asarray(base[key], float)
        diff = paired_difference(x, y)
        verdicts[key] = verdict(diff, +1)
        parts.append(f"{PROTOCOLS[key]}: {name} {100 * x.mean():.1f} vs baseline {100 * y.mean():.1f}, difference "
                     f"{diff.format()}")
    return Claim(table, text, "; ".join(parts) + extra, protocol_verdict(verdicts))


def _protocol_claim(table: str, text: str, names: tuple[str, str], a: dict | None, b: dict | None,
                    best: tuple[str, np.ndarray] | None, extra: str = "") -> Claim:
    """A localization claim "``names[0]`` localizes better than ``names[1]``" decided under every protocol of
    :data:`PROTOCOLS` on the test split (seeds matched pairwise, :func:`paired_difference_seeds`): the verdict is
    one protocol's only when every protocol gives it (:func:`cam_lib.metrics.protocol_verdict`), "depends on the
    protocol" when they differ, and "not testable here" when neither side localizes better than the best
    baseline (:func:`_localizes`). ``extra``: more numbers for the claim's line (e.g. classification)."""
    if a is None or b is None or not a["gt_known_tau_val"] or not b["gt_known_tau_val"]:
        return Claim(table, text, "not run in this profile", "—")
    seeds = min(len(a["gt_known_tau_val"]), len(b["gt_known_tau_val"]))
    parts, verdicts = [], {}
    for key, label in PROTOCOLS.items():
        x, y = np.stack(a[key][:seeds]), np.stack(b[key][:seeds])
        diff = paired_difference_seeds(x, y)
        verdicts[key] = verdict(diff, +1)
        parts.append(f"{label}: {names[0]} {100 * x.mean():.1f} vs {names[1]} {100 * y.mean():.1f}, "
                     f"difference {diff.format()}")
    able = _localizes(a, best) or _localizes(b, best)
    if not able:
        parts.append(f"neither localizes better than the best baseline ({best[0]}, "
                     f"{100 * best[1]['gt_known_tau_val'].mean():.1f})")
    return Claim(table, text, "; ".join(parts) + extra, protocol_verdict(verdicts, able),
                 _seed_line(a["gt_known_tau_val"][:seeds], b["gt_known_tau_val"][:seeds]))


def _classifies(s: Setup, outcomes: list) -> bool:
    """Whether a network classifies better than guessing: the Wilson interval of its top-1 error (first seed) lies
    below chance (1 - 1 / classes)."""
    if not outcomes:
        return False
    errors = np.asarray(outcomes[0])
    return wilson(int(errors.sum()), len(errors)).high < 1 - 1 / s.num_classes


def table1(s: Setup) -> Table:
    """Table 1: top-1/top-5 classification error of every network of the setup; claims: GAP against FC (not
    testable when neither network classifies better than chance)."""
    rows = []
    for model in _table1_rows(s):
        name, p1, p5 = PAPER_TABLE1[model]
        ev = evaluation(s, model, method=_method(model)) if model in s.models else None
        for metric, key, paper in (("top-1 cls err", "top1_cls_err", p1), ("top-5 cls err", "top5_cls_err", p5)):
            rows.append(_row({"row": name, "model": model}, metric, ev, key, paper))
    claims = []
    for gap, fc in (("googlenet_gap", "googlenet"), ("alexnet_gap", "alexnet"), ("vgg16_gap", "vgg16")):
        a, b = _outcomes(s, gap, "top1_cls_err"), _outcomes(s, fc, "top1_cls_err")
        claims.append(_paired_claim("table1", f"Replacing the FC layers by GAP ({gap} vs {fc}) costs some "
                                    f"classification accuracy (paper: {PAPER_TABLE1[gap][1]} vs {PAPER_TABLE1[fc][1]} "
                                    "top-1 error)", (gap, fc), a, b, +1, " top-1 error",
                                    able=_classifies(s, a) or _classifies(s, b),
                                    unable=f"neither classifies better than chance ({100 - 100 / s.num_classes:.1f}% "
                                           "top-1 error)"))
    return _written(s, Table("table1", rows, claims, _not_run_note(s)))


def _table1_rows(s: Setup) -> tuple[str, ...]:
    """Table 1's networks: the fine-tuned ImageNet networks of the setup, then the paper's nine."""
    return (*[m for m in PRETRAINED_GAP_MODELS if m in s.models], *TABLE1_MODELS)


def _table2_keys(s: Setup) -> list[tuple[str, str]]:
    """Table 2's (method, model) rows: the paper's, the fine-tuned ImageNet networks of the setup (CAM), and
    Backprop on the main GAP network."""
    rows = [k for k in PAPER_TABLE2 if k[1] not in PRETRAINED_GAP_MODELS]
    rows += [("cam", m) for m in PRETRAINED_GAP_MODELS if m in s.models]
    if s.main_gap in PRETRAINED_GAP_MODELS and s.main_gap in s.models:
        rows.append(("backprop", s.main_gap))
    return rows


def _name(method: str, model: str) -> tuple[str, float, float]:
    """A row's display name and the paper's top-1 / top-5 localization error (NaN where the paper has none)."""
    if (method, model) in PAPER_TABLE2:
        return PAPER_TABLE2[method, model]
    return (("Backprop on " if method == "backprop" else "") + _display(model), NAN, NAN)


def table2(s: Setup) -> Table:
    """Table 2 on the VALIDATION split: localization error (top-1 / top-5) of every map method and network, GT-known
    localization at the paper's 20%, MaxBoxAccV2 and the threshold at which boxes best reach IoU 0.5; the same
    metrics for the baselines that look at the image without the network (a class colour model, a class-agnostic
    saliency) and GT-known for the content-free boxes. The paper's comparisons are decided on the test split
    (:func:`table2_test`)."""
    rows, first = [], None
    for method, model in _table2_keys(s):
        name, p1, p5 = _name(method, model)
        ev = evaluation(s, model, method=method) if model in s.models else None
        first = first or ev
        rows += _map_rows({"row": name, "method": method, "model": model}, ev, p1, p5)
    main = evaluation(s, s.main_gap) if s.main_gap in s.models else None
    for method, name in IMAGE_BASELINES.items():
        rows += _map_rows({"row": name, "method": method, "model": "-"}, image_baseline(s, method, "val"), NAN, NAN,
                          classified=False)
    rows += _baseline_rows(main or first)
    notes = ("GT-known localization and MaxBoxAccV2 (Choe et al. 2020) are not in the paper; they separate "
             "localization from classification. The last metric is the map threshold (percent of the map's range) "
             "at which boxes reach IoU 0.5 most often, against the paper's fixed 20%. The baselines: a class colour "
             "model learned on the training boxes and a class-agnostic colour saliency (their maps use no network; "
             "no localization error, which needs a class guess), and boxes that use no image content (chosen on the "
             "training split's boxes only), all scored on the same images by the same rule. ci_low/ci_high: 95% "
             "interval over images (Wilson for hit rates). The paper's comparisons are decided on the test split "
             "under three protocols: Table 2 on the test set. " + _not_run_note(s) + _baselines_note(s))
    return _written(s, Table("table2", rows, [], notes))


def _map_rows(labels: dict, ev, p1: float, p2: float, classified: bool = True) -> list[TableRow]:
    """Table 2's metrics of one map method on one network (``ev`` None: not run); ``classified``: whether it makes
    class guesses (a baseline's maps do not come from a classifier: no localization error)."""
    rows = []
    for metric, key, paper in (("top-1 loc err", "top1_loc_err", p1), ("top-5 loc err", "top5_loc_err", p2),
                               ("GT-known loc acc", "gt_known_loc_acc", NAN), ("MaxBoxAccV2", "maxboxacc_v2", NAN)):
        rows.append(_row(labels, metric, ev if classified or not key.endswith("loc_err") else None, key, paper))
    # the map threshold that boxes best at IoU 0.5 (the paper fixes 20%)
    rows.append(TableRow(labels, "best threshold at IoU 0.5 (% of max)", _pct(ev and ev.best_threshold[0.5]), 20.0,
                         key="best_threshold"))
    return rows


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


def _written(s: Setup, table: Table, **header) -> Table:
    """``table``, written to ``results/tables/`` (CSV, Markdown, claims) with the run's header (``header``: lines
    that differ for this table, e.g. its data)."""
    table.write(s.results, {**environment(s), **header})
    return table


TEST_METRICS = (("GT-known loc acc, tau 0.2", "gt_known_tau_fixed"), ("tau chosen on val (%)", "tau_val"),
                ("GT-known loc acc, tau chosen on val", "gt_known_tau_val"), ("MaxBoxAccV2", "maxboxacc_v2"))


def _test_rows(s: Setup, labels: dict, model: str, method: str) -> list[TableRow]:
    """The test split's metrics of one map method on one network (the threshold chosen on the validation split);
    NaN rows when the network is not in the setup (or an image baseline cannot be measured)."""
    if method in IMAGE_BASELINES:
        val, ev = image_baseline(s, method, "val"), image_baseline(s, method, "test")
    elif model in s.models:
        val, ev = evaluation(s, model, "val", method), evaluation(s, model, "test", method)
    else:
        val = ev = None
    if val is None or ev is None:
        return [TableRow(labels, m, NAN, NAN, key=k) for m, k in TEST_METRICS]
    tau = val.chosen_threshold()
    ci = mean_interval(ev.gt_known_at(tau))
    return [_row(labels, TEST_METRICS[0][0], ev, "gt_known_loc_acc", NAN, key="gt_known_tau_fixed"),
            TableRow(labels, TEST_METRICS[1][0], _pct(tau), 20.0, key="tau_val"),
            TableRow(labels, TEST_METRICS[2][0], _pct(ci.estimate), NAN, _pct(ci.low), _pct(ci.high),
                     key="gt_known_tau_val"),
            _row(labels, TEST_METRICS[3][0], ev, "maxboxacc_v2", NAN)]


def table2_test(s: Setup) -> Table:
    """Table 2 on the TEST split with the protocol of Choe et al. (CVPR 2020): each map method's threshold chosen on
    the validation split, beside the paper's fixed 20% and MaxBoxAccV2, for every network, the image baselines and
    the content-free boxes (the same metrics for every row). Claims: the paper's comparisons (CAM against Backprop,
    GAP against GMP), each decided under the three protocols (:func:`_protocol_claim`), and the main GAP network
    against every baseline."""
    rows = []
    for method, model in _table2_keys(s):
        rows += _test_rows(s, {"row": _name(method, model)[0], "method": method, "model": model}, model, method)
    main = s.main_gap if s.main_gap in s.models else None
    for method, name in IMAGE_BASELINES.items():
        rows += _test_rows(s, {"row": name, "method": method, "model": "-"}, main or "-", method)
    test = evaluation(s, main, "test") if main else None
    for key, name in BASELINES.items():   # no map: the same box at every threshold
        ci = test.interval(f"baseline:{key}") if test is not None and f"baseline:{key}" in test.per_image else None
        for metric, mkey in TEST_METRICS:
            tau_free = mkey in ("gt_known_tau_fixed", "gt_known_tau_val") and ci is not None
            rows.append(TableRow({"row": name, "method": "fixed box", "model": "-"}, metric,
                                 _pct(ci.estimate) if tau_free else NAN, NAN, _pct(ci.low) if tau_free else NAN,
                                 _pct(ci.high) if tau_free else NAN, key=mkey if mkey != "gt_known_tau_fixed"
                                 else f"baseline:{key}"))
    notes = ("Not in the paper: the protocol of Choe et al. (CVPR 2020). The paper fixes the threshold at 20% of "
             "the map's range; here each map method's threshold is also chosen on the validation split (Table 2's "
             "images) and applied unchanged to the test split (Table 3's images). GT-known localization: the "
             "ground-truth class's map, the box of its largest component, IoU >= 0.5. A fixed box has no threshold "
             "and no map: its GT-known is the same under both thresholds. Every comparison of two networks or map "
             "methods is decided under the paper's 20%, each side's own val-chosen threshold and MaxBoxAccV2, with "
             "intervals over training seeds and test images; its verdict holds only when all three agree, and a "
             "comparison of two networks neither of which localizes better than the best baseline is not testable. "
             "CAM against a baseline is decided under the two thresholds (a fixed box has none to sweep). "
             + _test_split_note(s) + _baselines_note(s))
    return _written(s, Table("table2_test", rows, _test_claims(s), notes))


def _test_claims(s: Setup) -> list[Claim]:
    """Table 2's comparisons on the test split, under every protocol, and the main GAP network against every
    baseline."""
    best = _best_baseline(s)
    out = lambda model, method="cam": _test_outcomes(s, model, method)   # noqa: E731
    main, p2 = s.main_gap, {k: f"{row[1]:.1f}" for k, row in PAPER_TABLE2.items()}
    claims = [
        _protocol_claim("table2_test", "CAM on GoogLeNet-GAP localizes better than Backprop on GoogLeNet (paper, "
                        f"top-1 loc err: {p2['cam', 'googlenet_gap']} vs {p2['backprop', 'googlenet']})",
                        ("CAM", "Backprop"), out("googlenet_gap"), out("googlenet", "backprop"), best),
        _protocol_claim("table2_test", "CAM on AlexNet-GAP localizes better than Backprop on AlexNet (paper, top-5 "
                        f"loc err: {PAPER_TABLE2['cam', 'alexnet_gap'][2]:.1f} vs "
                        f"{PAPER_TABLE2['backprop', 'alexnet'][2]:.1f})", ("CAM", "Backprop"), out("alexnet_gap"),
                        out("alexnet", "backprop"), best),
        _protocol_claim("table2_test", f"CAM localizes better than Backprop on the same network ({_display(main)}; "
                        "the paper's direction on GoogLeNet)", ("CAM", "Backprop"), out(main), out(main, "backprop"),
                        best),
        _protocol_claim("table2_test", "GAP localizes better than GMP (GoogLeNet-GAP vs GoogLeNet-GMP, paper, top-1 "
                        f"loc err: {p2['cam', 'googlenet_gap']} vs {p2['cam', 'googlenet_gmp']})", ("GAP", "GMP"),
                        out("googlenet_gap"), out("googlenet_gmp"), best),
        _gap_gmp_claim(s, main, best),
    ]
    return claims + _baseline_claims(s, out(main) if main in s.models else None)


def _gap_gmp_claim(s: Setup, main: str, best) -> Claim:
    """GAP against GMP on the main network's backbone, under every protocol, with the classification difference
    and the mechanism (the share of the ground-truth box that each map covers above its own val-chosen tau, and above
    the paper's 20%, the same threshold for both)."""
    gmp = gmp_twin(main)
    a, b = _test_outcomes(s, main, "cam"), _test_outcomes(s, gmp, "cam")
    extra = ""
    if a is not None and b is not None:
        cls = paired_difference_seeds(np.stack(_outcomes(s, main, "top1_cls_err", "test")),
                                      np.stack(_outcomes(s, gmp, "top1_cls_err", "test")))
        shares = []
        for what, tau in (("above its own val tau", None), ("above the paper's 20%", 0.2)):
            cover = {m: np.mean([evaluation(v, m, "test").results["box_coverage"].at(
                tau if tau is not None else evaluation(v, m, "val").chosen_threshold()) for v in _seeds(s, m)], 0)
                for m in (main, gmp)}
            shares.append(f"{what}: GAP {100 * cover[main].mean():.1f}% vs GMP {100 * cover[gmp].mean():.1f}%, "
                          f"difference {paired_difference(cover[main], cover[gmp]).format()}")
        extra = (f"; top-1 classification error GAP minus GMP {cls.format()} points; share of the box covered by the "
                 f"map {'; '.join(shares)}")
    return _protocol_claim("table2_test", f"GAP localizes better than GMP on {_display(main).replace('-GAP', '')} "
                           "(the paper's direction on GoogLeNet: GAP covers the object's extent, GMP its most "
                           "discriminative part)", ("GAP", "GMP"), a, b, best, extra)


def _baseline_claims(s: Setup, main: dict | None) -> list[Claim]:
    """The main GAP network (its seeds averaged) against every baseline on the test images, GT-known at the paper's
    20% and at each side's val-chosen threshold (not in the paper: that CAM localizes at all, and not by colour)."""
    found = _baselines(s)
    not_run = "not run in this profile" if main is None else "not measured (no training split)"
    return [_baseline_claim("table2_test", f"CAM ({s.main_gap}) localizes better than the {name[0].lower() + name[1:]} "
                            "on the test split (not in the paper: that CAM localizes at all)", "CAM", main,
                            found.get(name), not_run=not_run)
            for name in (*BASELINES.values(), *IMAGE_BASELINES.values())]


def _test_split_note(s: Setup) -> str:
    if s.data == "embedded":
        return "Test split: objects_test."
    if s.split_val:
        return (f"Test split: the second of two disjoint halves of {s.val_root}'s validation images drawn with seed "
                f"{s.seed} (ILSVRC's test boxes are not public); every threshold is chosen on the first half.")
    return f"Test split: {s.test_root}."


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
    rows = [_row({"key": key, "row": _ours_name(name, key, model, backprop_model), "paper row": name,
                  "supervision": sup}, "top-5 loc err", *ours.get(key, (None, "")), paper, key="top5_loc_err")
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
    rows = [_score_row({"key": key, "row": _ours_name(name, key, model), "paper row": name, "annotation": ann},
                       "accuracy",
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
    for feature, model in (*TABLE5_FEATURES.items(), *((("gap", s.main_gap),) if s.main_gap in PRETRAINED_GAP_MODELS
                                                         else ())):
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
    # features of networks that never learned their own classes say nothing about what GAP training gives
    able = any(_classifies(s, _outcomes(s, m, "top1_cls_err")) for m in ("googlenet_gap", "alexnet"))
    return _written(s, Table("table5", rows, [
        _paired_claim("table5", f"Table 5 ({name}): GAP features of GoogLeNet-GAP beat fc7 of AlexNet (paper: on "
                      "every dataset)", ("gap", "fc7"), get("googlenet_gap", name), get("alexnet", name), +1,
                      " accuracy", able=able, unable="neither network classifies its own training classes better "
                      f"than chance (Table 1, {100 - 100 / s.num_classes:.1f}% top-1 error)")
        for name in s.transfer], notes))


def _not_run_note(s: Setup) -> str:
    missing = [m for m in TABLE1_MODELS if m not in s.models]
    return (f"Not run in profile {s.profile} (rows without our number): {', '.join(missing)}; "
            "run the `full` profile or pass `models`.") if missing else ""


# --- CAM and its successors (notebook 07; not in the paper) ----------------------------------------------------------

SUCCESSOR_TITLES = {name: method.title for name, method in METHODS.items()}   # each map method's title, from the registry
SUCCESSOR_METRICS = (*TEST_METRICS, ("top-1 loc err", "top1_loc_err"), ("PxAP", "pxap"))


def _successor_rows(s: Setup, method: str) -> list[TableRow]:
    """One map method on the main GAP network: the test split's metrics (threshold chosen on val), top-1
    localization error and PxAP (where the test split has masks)."""
    main = s.main_gap
    labels = {"row": f"{SUCCESSOR_TITLES[method]} on {_display(main)}", "method": method, "model": main}
    rows = _test_rows(s, labels, main, method)
    ev = evaluation(s, main, "test", method) if main in s.models else None
    rows.append(_row(labels, "top-1 loc err", ev, "top1_loc_err", NAN))
    pxap = ev.results.get("pxap") if ev is not None else None
    if pxap is None:
        rows.append(TableRow(labels, "PxAP", NAN, NAN, key="pxap"))
    else:
        ci = pxap.interval()
        rows.append(TableRow(labels, "PxAP", _pct(ci.estimate), NAN, _pct(ci.low), _pct(ci.high), key="pxap"))
    return rows


def table7(s: Setup) -> Table:
    """CAM and its successors (not in the paper): CAM, the map methods of :mod:`cam_lib.methods.successors`
    (:attr:`Setup.successors`) and Backprop on the main GAP network, scored by the same code on the test split (each
    method's threshold chosen on the validation split, the paper's 20%, MaxBoxAccV2, top-1 localization, PxAP);
    claims: CAM against each of them under every protocol, and each of them against the best baseline, over the
    network's training seeds (:attr:`Setup.seeded_models`; the rows show the setup's own seed)."""
    rows, claims = [], []
    methods = ("cam", *s.successors, "backprop")
    for method in methods:
        rows += _successor_rows(s, method)
    best = _best_baseline(s)
    main = s.main_gap
    out = lambda method: _test_outcomes(s, main, method)   # noqa: E731
    cam = out("cam")
    for method in (*s.successors, "backprop"):
        claims.append(_protocol_claim("table7", f"CAM localizes better than {SUCCESSOR_TITLES[method]} on the same "
                                      f"network ({_display(main)}; not in the paper: Choe et al. 2020 found vanilla "
                                      "CAM hard to beat)", ("CAM", SUCCESSOR_TITLES[method]), cam, out(method), best))
    for method in (*s.successors, "backprop"):   # whether the network localizes, whatever the map method
        text = (f"{SUCCESSOR_TITLES[method]} on {_display(main)} localizes better than the best baseline on the test "
                "split" + (f" ({best[0][0].lower() + best[0][1:]})" if best else "") + " (not in the paper: whether "
                "the map method localizes at all)")
        claims.append(_baseline_claim("table7", text, SUCCESSOR_TITLES[method], out(method), best and best[1]))
    notes = ("Not in the paper, which compares CAM with Backprop only. Choe et al. (CVPR 2020) compared WSOL "
             "training methods (HaS, ACoL, SPG, ADL, CutMix), each training its own network; this table compares "
             "post-hoc map methods on ONE trained network, the main GAP network, each method's maps normalised, "
             "thresholded and boxed by the same code as CAM's (cam_lib.methods.successors wraps torchcam's "
             "extractors). On a network that ends in global average pooling and one linear layer, the gradient of "
             "a class score with respect to the last feature map is the class's weight divided by the map's area at "
             "every position, so Grad-CAM and XGrad-CAM are CAM with its negative part cut (ReLU), and LayerCAM "
             "keeps only the positive weights: their differences from CAM measure that. PxAP: pixel average "
             "precision against the objects' masks (Choe et al.), where the test split has masks. "
             + _test_split_note(s))
    return _written(s, Table("table7", rows, claims, notes))


def method_speeds(s: Setup, methods: tuple[str, ...] | None = None, images: int = 32, reps: int = 3,
                  batch_size: int = 16) -> Table:
    """Images per second of each map method on the main GAP network, measured side by side in this process: the
    same ``images`` test images in batches of ``batch_size``, the methods interleaved ``reps`` times after one
    untimed pass each, the median kept; the time per image relative to CAM's. A timing: it changes from run to
    run and machine to machine (the header names the machine), unlike every other table."""
    import time

    import torch

    from ..methods import get_method
    from .artifacts import load_trained

    methods = methods or ("cam", *s.successors, "backprop")
    net = load_trained(s, s.main_gap).to(s.device).eval()
    ds = dataset(s, "test", s.main_gap)
    batches = [torch.stack([ds[i][0] for i in range(lo, min(lo + batch_size, images, len(ds)))])
               for lo in range(0, min(images, len(ds)), batch_size)]
    seen = sum(len(b) for b in batches)
    mappers = {m: get_method(m) for m in methods}
    times: dict[str, list[float]] = {m: [] for m in methods}
    for rep in range(reps + 1):
        for m in methods:
            start = time.perf_counter()
            for b in batches:
                mappers[m](net, b.to(s.device), "top1")
            if rep:
                times[m].append(time.perf_counter() - start)
    rate = {m: seen / float(np.median(t)) for m, t in times.items()}
    rows = []
    for m in methods:
        labels = {"row": SUCCESSOR_TITLES.get(m, m), "method": m, "model": s.main_gap}
        rows += [TableRow(labels, "images/s", rate[m], NAN, key="images_per_s"),
                 TableRow(labels, "time per image vs CAM (x)", rate["cam"] / rate[m], NAN, key="time_vs_cam")]
    notes = (f"Measured in this run on {seen} test images (batches of {batch_size}, {reps} interleaved repetitions "
             "after one untimed pass, medians), the map of the top-1 class: the forward pass, the backward passes "
             "of the gradient methods (from the scores to the last feature map only; Backprop's to the pixels), upsampling and normalisation, no boxes. A timing: it changes from run to run.")
    return _written(s, Table("table7_speed", rows, [], notes))


def real_sample_root(path: str | None = SHARED_SAMPLE):
    """The folder of real ILSVRC val images notebook 07 evaluates (relative paths from the repository root), or
    None when it is not there (the table is then left out, and the notebook says so)."""
    from ..runs import repo_path

    if path is None:
        return None
    root = repo_path(path)
    return root if root.is_dir() else None


def _real_outcomes(ev, first: np.ndarray, second: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Each protocol's per-image outcomes on the SECOND half, the threshold of ``gt_known_tau_val`` chosen on the
    first (:data:`PROTOCOLS`), plus the chosen threshold."""
    hits = np.asarray(ev.gt_known_hits, float)
    tau_index = int(np.argmax(hits[first].mean(0)))
    return {"gt_known_tau_fixed": [np.asarray(ev.per_image["gt_known_loc_acc"], float)[second]],
            "gt_known_tau_val": [hits[second, tau_index]],
            "maxboxacc_v2": [np.asarray(ev.per_image["maxboxacc_v2"], float)[second]],
            "tau": float(ev.thresholds[tau_index]),
            "top1_loc_err": [np.asarray(ev.per_image["top1_loc_err"], float)[second]]}


REAL_LADDER = ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")   # 1000-class, offline
REAL_TARGET = 10.0   # issue 21's target on the embedded benchmark: CAM at least this many points above every baseline


def _native_size(model: str) -> int:
    """The input size a 1000-class ImageNet network of the ladder was trained at (224 for any other)."""
    from ..models import EFFICIENTNET_LITE

    return EFFICIENTNET_LITE.get(model.removeprefix("tf_efficientnet_"), (None,) * 5)[4] or 224


def _real_evaluation(s: Setup, root, model: str, method: str, boxes: dict, batch_size: int, nets: dict):
    """:func:`cam_lib.localize.evaluate` of the 1000-class ``model`` with ``method`` on the real images at ``root``
    (the network's native input size; the content-free ``boxes`` scored on the same images), cached under the
    setup's checkpoints folder by the images (:func:`cam_lib.data.fingerprint`), the network, the method, the size
    and the boxes. ``nets``: the caller's holder of the last network built, reused by the methods that follow (one
    held at a time)."""
    from ..data import build_dataset, fingerprint, make_loader
    from ..data.common import eval_transform
    from ..io import cached_json
    from ..localize import Evaluation, evaluate
    from ..models import build_model

    size = _native_size(model)
    ds = build_dataset("imagenet", root, split="val", transform=eval_transform("resize", size))

    def compute():
        if model not in nets:
            nets.clear()
            nets[model] = build_model(model, pretrained=True).to(s.device).eval()
        return evaluate(nets[model], make_loader(ds, batch_size), s.device, method=method, baselines=boxes,
                        progress=False).to_json()
    key = {"version": 3, "images": fingerprint(ds), "model": model, "method": method, "size": size,
           "baselines": boxes}
    return Evaluation.from_json(cached_json(s.checkpoints / "real-sample", f"eval-{model}-{method}", key, compute))


def _real_halves(s: Setup, root):
    """The real images' listing and its two disjoint halves drawn with the setup's seed (indices, sorted)."""
    from ..data import build_dataset

    ds = build_dataset("imagenet", root, split="val")
    return (ds, *halves(s.seed, len(ds)))


def _first_half_boxes(ds, first: np.ndarray) -> dict:
    """The content-free boxes chosen on the FIRST half's ground truth only (the second half reports them)."""
    from ..data.common import stored_sizes
    from ..metrics import choose_baseline_boxes

    picked = [ds.samples[i] for i in first]
    chosen = choose_baseline_boxes([np.asarray(b, np.float64) for _, _, b in picked],
                                   stored_sizes(path for path, _, _ in picked))
    return {k: chosen[k] for k in ("frame", "centered", "best_fixed")}


REAL_BASELINES = {"frame": "Whole frame (no image content)",
                  "centered": "Centred box of the mean largest box of the first half (no image content)",
                  "best_fixed": "Best fixed box chosen on the first half (no image content)"}


def _real_rows(labels: dict, out: dict) -> list[TableRow]:
    """The rows of one map method (or content-free box) on the second half."""
    rows = []
    for metric, key in (*TEST_METRICS, ("top-1 loc err", "top1_loc_err")):
        if key == "tau_val":
            rows.append(TableRow(labels, metric, _pct(out["tau"]), 20.0, key=key))
        elif out.get(key) is None:
            rows.append(TableRow(labels, metric, NAN, NAN, key=key))
        else:
            ci = mean_interval(out[key][0])
            rows.append(TableRow(labels, metric, _pct(ci.estimate), NAN, _pct(ci.low), _pct(ci.high), key=key))
    return rows


def table7_real(s: Setup, root, model: str = "tf_efficientnet_lite0", methods: tuple[str, ...] | None = None,
                batch_size: int = 16, ladder: tuple[str, ...] = REAL_LADDER) -> Table:
    """CAM and its successors on real ILSVRC val images (``root``, e.g. the shared 300-image sample) with the
    1000-class ImageNet network ``model``, CAM of every network of the ``ladder`` (each at its native input size),
    and what localizes without the networks: the border colour contrast and three content-free boxes (whole frame,
    the centred box of the mean largest box, the best fixed box). The images are split into two disjoint halves
    drawn with the setup's seed: each method's threshold and the content-free boxes are chosen on the first half,
    every number is reported on the second (no image serves both). Claims: CAM against each method under every
    protocol, and CAM of each network of the ladder against the best baseline (the one that localizes the most
    first-half images), with its margin beside the embedded benchmark's target (:data:`REAL_TARGET`)."""
    methods = tuple(methods or ("cam", *s.successors, "backprop", "border_contrast"))   # and one without a network
    if methods[0] != "cam":
        raise BadInputError(f"parameter methods={methods!r}: the first must be 'cam' (the others are compared with "
                            "it)", param="methods")
    ds, first, second = _real_halves(s, root)
    boxes = _first_half_boxes(ds, first)
    outcomes, evaluations, rows, claims, nets = {}, {}, [], [], {}
    runs = [(model, m) for m in methods] + [(net, "cam") for net in ladder if net != model]
    for net, method in runs:
        evaluations[net, method] = ev = _real_evaluation(s, root, net, method, boxes, batch_size, nets)
        outcomes[net, method] = out = _real_outcomes(ev, first, second)
        rows += _real_rows({"row": f"{SUCCESSOR_TITLES[method]} on {net}", "method": method, "model": net}, out)
    cam_ev = evaluations[model, "cam"]
    found = {}
    for key, name in REAL_BASELINES.items():
        hits = np.asarray(cam_ev.per_image[f"baseline:{key}"], float)
        found[name] = (hits[first].mean(), {"gt_known_tau_fixed": hits[second], "gt_known_tau_val": hits[second]})
        rows += _real_rows({"row": name, "method": "fixed box", "model": "-"},
                           {"gt_known_tau_fixed": [hits[second]], "gt_known_tau_val": [hits[second]], "tau": NAN})
    if "border_contrast" in methods:
        hits = np.asarray(evaluations[model, "border_contrast"].gt_known_hits, float)
        name = f"{SUCCESSOR_TITLES['border_contrast']} at its first-half tau"
        found[name] = (hits[first].mean(0).max(), {k: outcomes[model, "border_contrast"][k][0]
                                                   for k in BASELINE_PROTOCOLS})
    for method in methods[1:]:
        claims.append(_protocol_claim("table7_real", f"CAM localizes better than {SUCCESSOR_TITLES[method]} on "
                                      f"{model} (real ILSVRC val images; not in the paper)",
                                      ("CAM", SUCCESSOR_TITLES[method]), outcomes[model, "cam"],
                                      outcomes[model, method], None))
    best = max(found, key=lambda name: found[name][0])   # chosen on the first half
    for net in ladder:
        cam = outcomes[net, "cam"]
        margin = 100 * (cam["gt_known_tau_val"][0].mean() - found[best][1]["gt_known_tau_val"].mean())
        text = (f"CAM on {net} localizes better than the best baseline of the first half ({best[0].lower() + best[1:]})"
                " on real ILSVRC val images (not in the paper: that CAM localizes at all; the embedded benchmark's "
                f"target is +{REAL_TARGET:.0f} points)")
        extra = (f"; at its first-half tau the margin {'reaches' if margin >= REAL_TARGET else 'falls short of'} +"
                 f"{REAL_TARGET:.0f} points")
        claims.append(_baseline_claim("table7_real", text, "CAM", cam, found[best][1], extra=extra))
    shown = shown_path(root)
    notes = (f"{len(ds)} real ILSVRC2012 val images ({shown}), split into two disjoint halves drawn with seed "
             f"{s.seed}: each method's threshold and the content-free boxes are chosen on the first {len(first)} "
             f"images and every number is reported on the other {len(second)}. {', '.join(ladder)} with their "
             "released ImageNet weights (1000 classes), unchanged, each at its native input size "
             f"({', '.join(str(_native_size(n)) for n in ladder)} pixels). The border colour contrast and the "
             "content-free boxes use no network. No masks: no PxAP.")
    return _written(s, Table("table7_real", rows, claims, notes), data=f"{len(ds)} real ILSVRC2012 val images at "
                    f"{shown}", networks=f"{', '.join(ladder)}: their released ImageNet weights, unchanged")


FLOOR_CUT = 0.25   # a map "reaches below zero" when its minimum is below -25% of its maximum


def _floors(net, loader, device) -> list[float]:
    """:func:`cam_lib.cam.map_floor` of the ground-truth class's raw CAM of every image of ``loader``."""
    import torch

    from ..cam import compute_cams, map_floor

    out = []
    with torch.no_grad():
        for batch in loader:
            maps = compute_cams(net, batch.images.to(device), classes="gt", targets=batch.labels.to(device),
                                normalize=False).maps[:, 0]
            out += map_floor(maps).cpu().tolist()
    return out


def _floor_rows(labels: dict, floors: list[float], common: float) -> list[TableRow]:
    """The floor rows of one network, and its classifier's common part (:func:`cam_lib.models.common_component`)."""
    values = np.asarray(floors, float)
    values = values[np.isfinite(values)]
    mean, below = mean_interval(values), mean_interval((values > FLOOR_CUT).astype(float))
    return [TableRow(labels, "CAM floor, -min/max, mean (%)", _pct(mean.estimate), NAN, _pct(mean.low),
                     _pct(mean.high), key="floor"),
            TableRow(labels, f"maps below -{FLOOR_CUT:.0%} of their max (%)", _pct(below.estimate), NAN,
                     _pct(below.low), _pct(below.high), key="floor_share"),
            TableRow(labels, "classifier's part common to all classes (%)", _pct(common), NAN, key="common")]


def table7_floor(s: Setup, root=None, ladder: tuple[str, ...] = REAL_LADDER, batch_size: int = 16) -> Table:
    """Why CAM and Grad-CAM (CAM without its negative part) differ on one data set and not on another: how far the
    ground-truth class's raw CAM reaches below zero (:func:`cam_lib.cam.map_floor`), for the embedded benchmark's
    GAP networks with ImageNet backbones (test split, their 10-class heads) and, where ``root`` holds real ILSVRC
    val images, for the 1000-class ImageNet networks of ``ladder`` on them. Min-max normalisation (the
    conventions) maps a map's zero to ``floor / (1 + floor)`` of its range, so a floor that varies from image to
    image moves each image's effective threshold. Beside each network, the part of its classifier common to all
    classes (:func:`cam_lib.models.common_component`), which adds one map to every class's CAM."""
    from ..data import build_dataset, fingerprint, make_loader
    from ..data.common import eval_transform
    from ..io import cached_json
    from ..models import build_model, common_component
    from .artifacts import _cached

    def measure(net, loader) -> dict:
        return {"floors": _floors(net, loader, s.device), "common": common_component(net)}

    rows = []
    for model in (m for m in PRETRAINED_GAP_MODELS if m.endswith("_gap") and m in s.models):
        data = _cached(s, model, "cam-floor-test", images_key(s, "test"), {"which": "test", "version": 2},
                       lambda net, model=model: measure(net, make_loader(dataset(s, "test", model), batch_size)))
        rows += _floor_rows({"row": f"{_display(model)}, embedded test split ({s.num_classes} classes)",
                             "model": model, "data": "embedded"}, data["floors"], data["common"])
    if root is not None:
        for model in ladder:
            ds = build_dataset("imagenet", root, split="val", transform=eval_transform("resize", _native_size(model)))
            key = {"version": 3, "images": fingerprint(ds), "model": model, "size": _native_size(model)}
            data = cached_json(s.checkpoints / "real-sample", f"cam-floor-{model}", key, lambda model=model, ds=ds:
                               measure(build_model(model, pretrained=True).to(s.device).eval(),
                                       make_loader(ds, batch_size)))
            rows += _floor_rows({"row": f"{model}, real ILSVRC val images (1000 classes)", "model": model,
                                 "data": "real"}, data["floors"], data["common"])
    notes = ("Not in the paper. The ground-truth class's CAM before normalisation: its floor is -min/max (0 when the "
             "map has no negative value). Min-max normalisation puts the map's zero at floor / (1 + floor) of its "
             "range, so a threshold of 20% keeps only positive evidence on a map with no floor and reaches into "
             "the negative evidence on a map whose floor exceeds 25%. Grad-CAM on a GAP network is CAM with its "
             "negative part cut, which removes the floor: the two agree where floors are near 0. The classifier's "
             "common part: the norm of its class-mean weight vector over the mean norm of its class weight vectors; "
             "it adds the same map to every class's CAM and changes no prediction. cam_lib.train removes it from "
             "every network it trains (centre_classifier_; bench/centring.py measures what that changes on the "
             "validation split); the released networks are shown as released.")
    if not rows:   # no ImageNet-backbone GAP network in the setup and no real images: nothing to write
        return Table("table7_floor", rows, [], notes)
    return _written(s, Table("table7_floor", rows, [], notes),
                    networks="embedded: the series' GAP networks with ImageNet backbones; real: "
                             f"{', '.join(ladder)}, their released ImageNet weights")

"""Classification and localization metrics (Tables 1-4 of the paper; MaxBoxAcc of Choe et al., CVPR 2020).

Streaming accumulators in the style of wsolevaluation: ``update`` once per batch, ``compute`` at the end,
``reset`` to reuse. Counts stay on the device of the inputs until ``compute``. Every result is a fraction in
[0, 1]. Conventions (conventions.md, pinned by tests/test_metrics.py):

- boxes are inclusive 0-based pixel boxes ``[x0, y0, x1, y1]`` with finite coordinates, ``x1 >= x0`` and
  ``y1 >= y0`` (checked at the entry of every metric by :func:`cam_lib.boxes.check_boxes_tensor`: predicted
  boxes and the VALID ground-truth boxes); IoU with the +1 pixel convention (:func:`cam_lib.boxes.box_iou`);
- a localization guess is right when its class is the ground-truth class and IoU >= 0.5 with ANY ground-truth
  box of that class (ILSVRC rule); top-1 uses the first guess, top-5 any of the first five;
- GT-known localization uses the ground-truth class's map (one box per image);
- MaxBoxAcc(delta) = max over CAM thresholds tau of the fraction of images whose best box at tau has IoU >=
  delta with a ground-truth box; MaxBoxAccV2 averages delta in {0.3, 0.5, 0.7} and boxes every connected
  component (V1: delta = 0.5 and the largest component only). :class:`MaxBoxAcc` labels every threshold of the
  grid in one compiled sweep per map (:func:`best_ious`; no loop over thresholds), with numbers identical to
  the per-threshold OpenCV algorithm (:func:`cam_lib.metrics.reference.baseline_best_ious`).

Ground truth comes padded: ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)`` (see :func:`cam_lib.boxes.pad_boxes`).

Modules: :mod:`.classification` (Table 1: :class:`ClassificationError`, :func:`topk_wrong`, also used by
training), :mod:`.localization` (Tables 2-3: the hit rule :func:`box_hits` / :func:`guess_hits`,
:class:`LocalizationError`, :class:`GTKnownLocalization`), :mod:`.maxboxacc` (the MaxBoxAcc sweep),
:mod:`.reference` (the per-threshold algorithm it is checked against; not imported here), :mod:`.checks`.
"""

from .protocol import Metric, Result, result_from_json
from .classification import ClassificationError, ClassificationResult, TopKClassification, topk_wrong
from .localization import (IOU_THRESHOLD, GTKnown, GTKnownLocalization, GTKnownResult, LocalizationError,
                           LocalizationResult, TopKLocalization, box_hits, guess_hits, scored_guess_hits)
from .maxboxacc import V2_IOU_THRESHOLDS, MaxBoxAcc, best_ious, best_ious_both, ceil_float32, map_levels, threshold_grid
from .intervals import (PROTOCOL_VERDICTS, VERDICTS, Interval, bootstrap_mean, mean_interval, paired_difference,
                        paired_difference_seeds, protocol_verdict, seed_spread, verdict, wilson)
from .maxboxacc import (GTKnownCurve, GTKnownCurveResult, MaxBoxAccResult, MaxBoxAccV2, batch_sweep,
                        maxboxacc_per_image)
from .baselines import BaselineResult, FixedBox, largest_boxes
from .coverage import BoxCoverage, BoxCoverageResult, box_coverage
from .pxap import MASK_IGNORE, PxAP, PxAPResult, pxap_from_histograms, pxap_histograms
from .classification import topk_misses
from .baselines import (baseline_hits, best_fixed_box, centered_box, centered_box_norm, choose_baseline_boxes,
                        frame_box, mean_box_size, normalize_boxes, pixel_box)

__all__ = ["ClassificationError", "LocalizationError", "GTKnownLocalization", "MaxBoxAcc", "best_ious", "best_ious_both", "box_hits",
           "ceil_float32", "guess_hits", "map_levels", "threshold_grid", "topk_wrong", "IOU_THRESHOLD",
           "V2_IOU_THRESHOLDS"]
__all__ += ["Interval", "VERDICTS", "PROTOCOL_VERDICTS", "mean_interval", "paired_difference_seeds", "protocol_verdict",
            "wilson", "bootstrap_mean", "paired_difference", "seed_spread", "verdict",
            "maxboxacc_per_image", "topk_misses", "baseline_hits", "best_fixed_box", "centered_box",
            "centered_box_norm", "choose_baseline_boxes", "frame_box", "mean_box_size", "normalize_boxes", "pixel_box"]
__all__ += ["PxAP", "PxAPResult", "MASK_IGNORE", "pxap_from_histograms", "pxap_histograms", "BoxCoverage",
            "BoxCoverageResult", "box_coverage", "largest_boxes", "Metric", "Result", "result_from_json", "ClassificationResult", "TopKClassification", "GTKnown",
            "GTKnownResult", "LocalizationResult", "TopKLocalization", "scored_guess_hits", "GTKnownCurve",
            "GTKnownCurveResult", "MaxBoxAccResult", "MaxBoxAccV2", "batch_sweep", "BaselineResult", "FixedBox",
            "standard_metrics"]


def standard_metrics(num_classes: int, cam_thresholds, baselines: dict | None = None,
                     threads: int | None = None) -> list[Metric]:
    """The metrics of Tables 1-3 that :func:`cam_lib.localize.evaluate` runs by default: top-1/top-5
    classification and localization error, GT-known localization, MaxBoxAccV2 and GT-known at every threshold of
    ``cam_thresholds`` (one sweep per batch serves both), and a :class:`FixedBox` per baseline box (name ->
    normalised box). Append a metric of your own to this list to run it beside them."""
    return [TopKClassification(num_classes), TopKLocalization(), GTKnown(), MaxBoxAccV2(cam_thresholds, threads),
            GTKnownCurve(cam_thresholds, threads), *(FixedBox(k, v) for k, v in (baselines or {}).items())]

"""The notebook series (``notebooks/00_data`` ... ``07_successors``): a notebook only calls these and shows what
they return. Split by what it does:

- :mod:`~cam_lib.series.setups`: the profiles, a notebook's parameters resolved into a :class:`Setup`, the run's
  header (:func:`environment`);
- :mod:`~cam_lib.series.artifacts`: trained networks (only :func:`ensure_trained`, called by notebook 01, trains)
  and cached measurements (:func:`evaluation`, ...);
- :mod:`~cam_lib.series.tables`: Tables 1-5, the paper's numbers beside ours, and notebook 07's comparison of CAM
  with its successors, each returned as a
  :class:`~cam_lib.results.Table` (rows with machine keys, typed claims, notes) that the texts and charts read;
- :mod:`~cam_lib.series.figures`: the figures (each with a caption written from what it draws) and the charts of
  the tables (:func:`table_figure`);
- :mod:`~cam_lib.series.texts`: what the notebooks say, from the run's numbers: the opening :func:`summary`,
  "What the numbers mean" (:func:`meaning`), a table as a grid of networks x metrics (:func:`table_markdown`) and
  a figure's :func:`caption`.

A notebook's cells: ``t2 = series.table2(s)``, ``series.table_markdown(t2)``, ``series.meaning(s, t2)``,
``series.table_figure(s, t2, path)``.

Asking for a table or a figure never trains: a missing network raises :class:`NotTrainedError` naming the notebook
and the command that train it. On real data (``data="imagenet"``) networks are best trained beforehand with
``torchrun ... -m cam_lib train`` into the same checkpoint folders (``checkpoints/<data>-<profile>-s<seed>/<model>/``).
"""

from ..results import Claim, Table, TableRow
from .artifacts import (BaselineBoxes, BaselinesUnavailableError, NotTrainedError, baseline_boxes, checkpoint,
                        checkpoint_hash, choose_main_gap, cub_evaluation, ensure_trained, evaluation, forget_networks,
                        heuristic_evaluation, load_trained, main_choice, transfer_evaluation)
from .figures import (bird_boxes_figure, class_maps_figure, comparison_figure, dataset_figure, methods_figure,
                      photo_boxes, photos_figure, table_figure, topk_figure, training_curves, transfer_figure)
from .setups import (DATA, FC_MODELS, GAP_MODELS, NO_CAM_MODELS, PRETRAINED_GAP_MODELS, PROFILES, SUCCESSORS, TABLE1_MODELS,
                     SeriesProfile, Setup, check_data, data_summary, dataset, environment, gmp_twin, seed_variant,
                     setup)
from .tables import (SHARED_SAMPLE, SUCCESSOR_TITLES, TABLE5_FEATURES, method_speeds, real_sample_root, table1, table2,
                     table2_test, table3, table4, table5, table7, table7_floor, table7_real)
from ..runs import shown_path
from .texts import caption, finished_line, main_choice_text, meaning, short_errors, summary, table_markdown

__all__ = ["PROFILES", "DATA", "TABLE1_MODELS", "GAP_MODELS", "PRETRAINED_GAP_MODELS", "seed_variant", "table2_test", "FC_MODELS", "NO_CAM_MODELS", "SeriesProfile", "Setup",
           "setup", "short_errors", "shown_path", "dataset", "environment", "data_summary", "check_data", "NotTrainedError", "ensure_trained",
           "checkpoint", "load_trained", "evaluation", "heuristic_evaluation", "cub_evaluation", "transfer_evaluation",
           "TABLE5_FEATURES", "table1", "table2", "table3", "table4", "table5", "dataset_figure", "methods_figure",
           "bird_boxes_figure", "transfer_figure", "topk_figure", "class_maps_figure", "photos_figure",
           "training_curves", "comparison_figure", "table_figure", "photo_boxes", "summary", "meaning",
           "table_markdown", "caption", "finished_line", "Table", "TableRow", "Claim", "BaselineBoxes",
           "BaselinesUnavailableError", "baseline_boxes", "checkpoint_hash", "forget_networks", "choose_main_gap",
           "main_choice", "main_choice_text", "gmp_twin", "table7", "table7_real", "table7_floor", "method_speeds",
           "real_sample_root", "SHARED_SAMPLE", "SUCCESSOR_TITLES", "SUCCESSORS"]

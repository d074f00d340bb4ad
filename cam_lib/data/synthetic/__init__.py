"""The embedded benchmark: small, offline stand-ins for the paper's datasets, written in the real formats.

Every notebook of the series runs on a CPU laptop in minutes on data this module generates, through the same
loaders as the real datasets. :func:`build` writes one folder
``root/synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}/``:

``objects/``, ``objects_test/`` -- stand-in for ILSVRC (Tables 1-3: GAP vs FC classification, CAM vs Backprop
    localization, GAP vs GMP, the Table 3 test-set heuristic on ``objects_test``). Up to 24 classes of procedurally
    drawn objects (house, tree, flower, key, ... see :data:`OBJECT_CLASSES`; the ``default`` profile takes the
    first 10), each a family with its own variation of shape, proportions, parts, rotation and scale. Objects have
    ILSVRC's geometry: the largest box per image covers a fraction of the image drawn to match ILSVRC val's
    (quartiles about a quarter, a half and 70%; see :data:`~cam_lib.data.synthetic.compose.OBJECT_AREA`), at
    uniform positions, so that no fixed box localizes well.

    **Why it looks like this (generator version 5; decided from principles and ILSVRC's statistics before any
    CAM was computed on it).** A localization number means something only if what finds the object without the
    method fails here. Version 4 tinted every class to its own hue, so a colour threshold learned on the training
    boxes found 85% of the test objects, as many as CAM: it measured colour segmentation. So:

    - *Colour and texture carry no class, and objects have the photographs' colours.* Every fill of every class,
      of the distractors and of the clutter is drawn from the same distribution: the colour of a random pixel of
      the scene's own background (half of the draws) or of the pooled backgrounds of all the photographs
      (:func:`~cam_lib.data.synthetic.render.scene_palette`); classes defined by a texture (checkerboard,
      striped ellipse) were removed. A colour-histogram classifier of the objects' own pixels is at chance
      (tests/test_synthetic.py). The share of the scene's own colours was set so that a class-agnostic saliency
      (colour distance to the image border, :class:`cam_lib.methods.BorderContrast`) localizes the validation split
      as well as it localizes the real ILSVRC sample with the same code (about 56% GT-known at its chosen
      threshold), and no better: a calibration on a baseline that ignores the network, never on CAM. With
      random saturated colours instead it found 75% of the objects, more than CAM.
    - *Class is shape made of parts.* The default's ten classes are the ones drawn from several distinct parts in a
      class-specific arrangement (house: body, roof, door, windows, chimney; anchor: ring, shank, stock, arms,
      flukes; ...), so that the object's extent (what GAP rewards) and its single most discriminative part (what
      GMP rewards) differ, as the paper's Sec. 3.2 argues.
    - *Other classes are in the picture.* A stated tenth of the images
      (:data:`~cam_lib.data.synthetic.compose.DISTRACTOR_FRACTION`) also shows a whole, unlabelled object of
      another class of the build, at the sizes of a labelled object: the ground-truth class's map has to pick the
      right object, which a class-agnostic saliency cannot. ILSVRC labels one class per image and many of its
      images show other objects; the share is a choice, stated, not a measurement.
    - *ILSVRC's geometry*, measured on the shared val sample, is kept (20% of images with two instances).
    - Clutter (random strokes, cut fragments of other classes) stays off the labelled boxes, as in version 4.

    Layout of the ILSVRC devkit (read unchanged by
    :class:`cam_lib.data.imagenet.ImageNetVal`, ``layout="devkit"``): ``LOC_synset_mapping.txt`` (``wnid name``,
    fake wnids ``n90000000``, ``n90000001``, ... in class order), ``train/<wnid>/<wnid>_<k>.JPEG``,
    ``train_bbox/<wnid>/<wnid>_<k>.xml``, ``val/ILSVRC2012_val_<8 digits>.JPEG`` with
    ``bbox/ILSVRC2012_val_<8 digits>.xml``; ``objects_test/`` is a second root of the same format (its own mapping,
    ``val/ILSVRC2012_test_<8 digits>.JPEG``, ``bbox/``). XML boxes are inclusive 0-based pixel boxes.
``birds/CUB_200_2011/`` -- stand-in for CUB-200-2011 (Table 4: linear SVM on GAP features of the full image, of
    the CAM crop and of the ground-truth crop; the 41% CAM localization figure). 14 species of one perching-bird
    body plan, modelled on CUB species (Northern Cardinal, Blue Jay, American Goldfinch, ...), that differ by the
    pattern of large parts (which of crown, head, back, wings, breast, belly, tail, a wing mark share a colour and
    which stand out; a second, female pattern for the dimorphic species) and by size and shape (body depth, tail,
    bill, crest). The colours are drawn per image from the shared distribution (version 5: no species has a colour
    a histogram reads, the rule of the objects). Framed as CUB's photographs
    (measured on CUB's own boxes, see :mod:`.birds`): the box covers a median 32% of the image (5-95%: 11-70%),
    posture gives CUB's box aspects, birds are centred (offset sd 9% / 7% of the width / height), the scene
    behind the bird is out of focus (depth of field), with twigs and a perch. Files exactly as CUB:
    ``images.txt``, ``image_class_labels.txt``, ``train_test_split.txt``, ``bounding_boxes.txt`` (``id x y width
    height`` floats, ``x, y`` the top-left pixel, 0-based, so the inclusive box is ``[x, y, x + width - 1, y +
    height - 1]``), ``classes.txt``, ``images/<NNN.Name>/<Name>_<kkkk>.jpg``; train/test half/half per class.
``transfer/scenes/``, ``transfer/things/`` -- stand-ins for Table 5 (linear SVM on generic features): scene-like
    global layouts and object classes whose shapes no ``objects`` class uses, in torchvision ImageFolder layout
    ``transfer/<suite>/{train,test}/<class>/<k>.jpg``.
``samples/<suite>.png`` -- a grid of samples with their ground-truth boxes; ``manifest.json`` -- key, profile,
    seed, counts per suite and split, class lists and a sha256 over every suite's files (names and contents).

Images are real-photo backgrounds (random crops, flips, colour jitter of the photographs and textures shipped in
the scikit-image and scikit-learn wheels) with objects drawn by PIL at 3x supersampling (anti-aliased) and
composited with their coverage alpha. A ground-truth box is the inclusive bounding box of the pixels an instance
covers (alpha > 0, computed from the instance's own mask before compositing, clipped to the image); clutter
(fragments of other classes' objects, cut so that at most 65% of one remains, and random strokes) never overlaps
a labelled box by more than 10% of its area.

Determinism and caching: every image is drawn from its own ``numpy.random.Generator`` seeded by
``(seed, suite, split, index)``, so the bytes written do not depend on the number of workers or their order, and
the same seed gives byte-identical files (fixed JPEG quality, no timestamps anywhere). A folder is complete when
its ``manifest.json`` (written last) matches the key and profile; :func:`build` then returns at once. Builds
write into a temporary sibling folder that is renamed into place at the end, so an interrupted build never
leaves a folder that looks complete. Change :data:`GENERATOR_VERSION` whenever the output changes.
"""

from .birds import BIRD_SPECIES
from .objects import OBJECT_CLASSES, THING_CLASSES, object_wnids
from .sample import Sample, render_sample
from .scenes import SCENE_CLASSES
from .writer import GENERATOR_VERSION, PROFILES, Profile, build, describe, folder_name, sample_grid

__all__ = ["GENERATOR_VERSION", "PROFILES", "Profile", "OBJECT_CLASSES", "BIRD_SPECIES", "SCENE_CLASSES",
           "THING_CLASSES", "Sample", "build", "describe", "folder_name", "render_sample", "sample_grid", "object_wnids"]

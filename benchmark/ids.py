"""P-IDS and U-IDS (Zhao et al., CoModGAN, ICLR 2021; used by MAT, CVPR 2022), their exact definition.

A linear SVM (``sklearn.svm.LinearSVC(dual=False)``, default C = 1, squared hinge loss, as in co-mod-gan's
``metrics/inception_discriminative_score.py`` and MAT's ``metrics/inception_discriminative_score.py``) is
trained on the 2n Inception features, real (ground truth, label 1) and fake (output, label 0), and scored on
the same features:

* U-IDS (unpaired) = 1 - ``svm.score(inputs, labels)``: the misclassification rate over all 2n features
  (with n real and n fake, the mean of the real-called-fake and fake-called-real rates). 0.5 is
  indistinguishable, 0 perfectly separated.
* P-IDS (paired) = ``mean(fake_outputs > real_outputs)``: the share of pairs whose output gets a larger
  decision value (looks more real) than its own ground truth. 0.5 at best, 0 when every output is told apart.

Higher is better for both. The SVM is trained and evaluated on the same features, as in the originals, so
it overfits when there are few features per dimension: for 2n <= d + 1 points in general position any
labelling is linearly separable (Cover, 1965) and both scores are 0 whatever the model. The accumulator
therefore computes them only for groups with at least :data:`PAIRS_PER_DIMENSION` x d pairs (8,192 pairs
for the 2048-d Inception features: the 12,000-pair ``all`` row of the NVIDIA set, never a 1,000-pair cell),
NaN elsewhere. ``LinearSVC(dual=False)`` (liblinear's primal solver) is deterministic.

Needs scikit-learn (the ``[torch]`` extra, with the other set-level metrics); without it the scores are NaN
and the reason is recorded (:func:`ids_unavailable`).
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

__all__ = ["PAIRS_PER_DIMENSION", "SKLEARN_MISSING", "ids_unavailable", "ids_min_pairs",
           "inception_discriminative_scores"]

LOGGER = logging.getLogger(__name__)
PAIRS_PER_DIMENSION = 4
SKLEARN_MISSING = "scikit-learn is not installed (pip install 'inpaint-masks-toolkit[torch]')"


def ids_unavailable() -> str:
    """Why P-IDS and U-IDS cannot be computed here ("" when scikit-learn imports)."""
    try:
        import sklearn.svm  # noqa: F401
    except ImportError:
        return SKLEARN_MISSING
    return ""


def ids_min_pairs(dimension: int, *, pairs_per_dimension: int = PAIRS_PER_DIMENSION) -> int:
    """The fewest pairs a group needs for P-IDS and U-IDS with ``dimension``-d features."""
    return pairs_per_dimension * dimension


def inception_discriminative_scores(truth: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """(p_ids, u_ids) of paired real (``truth``) and fake (``output``) features, both n x d with n >= 1.

    Raises:
        ImportError: without scikit-learn.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    truth, output = np.asarray(truth, dtype=np.float64), np.asarray(output, dtype=np.float64)
    if truth.ndim != 2 or truth.shape != output.shape or not truth.shape[0]:
        raise ValueError(f"truth and output features must both be n x d with n >= 1, got {truth.shape} and "
                         f"{output.shape}")
    inputs = np.concatenate([truth, output])
    labels = np.array([1] * truth.shape[0] + [0] * output.shape[0])
    svm = LinearSVC(dual=False)
    with warnings.catch_warnings(record=True) as caught:  # liblinear's iteration cap: logged; the originals
        warnings.simplefilter("always", ConvergenceWarning)  # go on with the model as well
        svm.fit(inputs, labels)
    for other in (w for w in caught if not issubclass(w.category, ConvergenceWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        LOGGER.warning("P-IDS/U-IDS: LinearSVC stopped at its iteration cap (%d pairs), as it may in the "
                       "original implementations", truth.shape[0])
    u_ids = 1.0 - float(svm.score(inputs, labels))
    real_outputs = svm.decision_function(truth)
    fake_outputs = svm.decision_function(output)
    p_ids = float(np.mean(fake_outputs > real_outputs))
    return p_ids, u_ids

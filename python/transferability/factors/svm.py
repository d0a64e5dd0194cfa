"""A linear SVM on off-the-shelf features (Azizpour et al. 2014): optional PCA, optional L2
normalisation, one-vs-rest LinearSVC with C chosen by cross-validation on the training set.

PCA is fitted on training features only: on each fold's training part during cross-validation,
then on the whole training set for the final model. C is relative to the features' scale: the
LinearSVC gets C / (mean squared norm of the training rows), so one grid suits raw activations
and L2-normalised ones (where the two are equal), and raw high-dimensional layers converge fast.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from transferability.errors import UserError

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
FOLDS = 3
SEED = 0


@dataclass(frozen=True)
class Reduction:
    """PCA to `pca` dimensions (0: none), then L2 normalisation of each row (when `l2`)."""

    pca: int = 0
    l2: bool = False

    def fit(self, x: np.ndarray):
        """A fitted transform: a function of (N, D) features."""
        from sklearn.decomposition import PCA

        pca = None
        if self.pca:
            dims = min(self.pca, *x.shape)
            pca = PCA(n_components=dims, random_state=SEED).fit(x)

        def apply(z: np.ndarray) -> np.ndarray:
            z = pca.transform(z) if pca is not None else z
            if self.l2:
                z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            return z.astype(np.float32, copy=False)

        return apply


@dataclass(frozen=True)
class Result:
    top1_accuracy: float
    C: float            # the grid's value, relative to the features' scale
    svm_C: float        # what LinearSVC got: C / mean squared norm of the training rows
    cv_accuracy: float
    dims: int           # after the reduction
    input_dims: int
    n_train: int
    n_test: int
    converged: bool     # LinearSVC reached its tolerance in every fit

    def row(self) -> dict[str, object]:
        return asdict(self)


def _svc(c: float):
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, dual="auto", max_iter=5000, random_state=SEED)


def scale(x: np.ndarray) -> float:
    """1 / the mean squared norm of the rows: what a relative C is multiplied by."""
    return float(1 / max(np.mean(np.einsum("ij,ij->i", x, x, dtype=np.float64)), 1e-12))


def _fit(c: float, x: np.ndarray, y: np.ndarray, caught: list) -> object:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always", ConvergenceWarning)
        model = _svc(c * scale(x)).fit(x, y)
    caught += [w for w in got if issubclass(w.category, ConvergenceWarning)]
    return model


def cross_validate(x: np.ndarray, y: np.ndarray, reduction: Reduction, grid=C_GRID,
                   folds: int = FOLDS, caught: list | None = None) -> tuple[float, float]:
    """(best C, its mean accuracy) over stratified folds; the reduction is fitted per fold."""
    from sklearn.model_selection import StratifiedKFold

    caught = [] if caught is None else caught
    scores = np.zeros(len(grid))
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y):
        apply = reduction.fit(x[fit_idx])
        xf, xh = apply(x[fit_idx]), apply(x[held_idx])
        for i, c in enumerate(grid):
            scores[i] += (_fit(c, xf, y[fit_idx], caught).predict(xh) == y[held_idx]).mean()
    best = int(np.argmax(scores))
    return float(grid[best]), float(scores[best] / folds)


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float,
                reduction: Reduction = Reduction()) -> np.ndarray:
    """The test features' classes by the SVM of relative C = `c` fitted on all training features:
    `evaluate`'s final model once C is chosen, for a C chosen before."""
    apply = reduction.fit(x_train)
    return _fit(c, apply(x_train), y_train, []).predict(apply(x_test))


def check_sets(x_train, y_train, x_test, folds: int) -> None:
    if x_train.shape[1] != x_test.shape[1]:
        raise UserError(f"train features have {x_train.shape[1]} dimensions, "
                        f"test features {x_test.shape[1]}")
    classes, counts = np.unique(y_train, return_counts=True)
    if len(classes) < 2:
        raise UserError("the training features hold fewer than 2 classes")
    if counts.min() < folds:
        raise UserError(f"class {classes[counts.argmin()]} has {counts.min()} training "
                        f"examples, fewer than the {folds} cross-validation folds")


def evaluate(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             reduction: Reduction = Reduction(), grid=C_GRID, folds: int = FOLDS) -> Result:
    """Choose C by cross-validation, refit on all training features, score top-1 on the test."""
    check_sets(x_train, y_train, x_test, folds)
    caught: list = []
    c, cv = cross_validate(x_train, y_train, reduction, grid, folds, caught)
    apply = reduction.fit(x_train)
    z_train = apply(x_train)
    model = _fit(c, z_train, y_train, caught)
    top1 = float((model.predict(apply(x_test)) == y_test).mean())
    return Result(top1, c, c * scale(z_train), cv, z_train.shape[1], x_train.shape[1],
                  len(y_train), len(y_test), not caught)

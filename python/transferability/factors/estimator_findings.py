"""Whether the cheap estimators predict what the grid and the study measured, as verdicts.

Rank correlations (Kendall's tau-b, Spearman's rho) between an estimator and a measured accuracy,
each with the percentile 95% interval of its bootstrap replicates (training images for the
estimator, validation images for the accuracy, drawn independently): across the layers of one
source on one target, across the sources at one layer position (and at the source's best: the
estimator's top layer against the measured best layer; LEEP and NCE are the head's), and across
the targets near, middle, far for one source.

The claims, per estimator and target (the measured accuracy: the grid's linear SVM, and split 0's
frozen transfer AnB on the near target):
1. predicts the best layer: q = mean over the sources of (the measured best layer's accuracy -
   the accuracy of the estimator's top layer), in points. Reproduced if q = 0 (the top layer is
   the measured best for every source), within noise if q <= 2 x noise, not reproduced beyond.
   Noise: the grid's seed noise of the target (grid_findings.py), for AnB the study's (baseB's
   seed spread, results/findings.py).
2. orders the layers: q = the mean over the sources of tau across the layers. Reproduced if its
   interval lies above 0, not reproduced if below 0, within noise if it holds 0.
3. orders the sources: q = tau across the sources at their best (as above). The same criterion.
4. orders the targets by distance: per source (at the estimator's top layer; LEEP and NCE: the
   head), d1 = score(near) - score(middle) and d2 = score(middle) - score(far); q = the smaller
   of their means over the sources. Reproduced if q's interval lies above 0, not reproduced if
   below, within noise if it holds 0. The same claim of the measured best-layer accuracy is shown
   beside them: whether the ground truth itself orders the targets so. The targets have 5, 4
   and 10 classes, and the scores are taken as they are: H-score is at most classes - 1, LEEP
   and NCE at least about -log(classes), so this claim's scores differ by the task as much as by
   its distance.

Only the bootstrap over images enters an interval: a layer or source ordering that another seed
of the source would change is not in it (claim 1 takes the seed noise). Resampled images make
both the scores and the accuracies noisier, so the replicates' tau lies below the tau of all
images, which can fall outside its (percentile) interval: the interval errs towards 0, against
the claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import mean

import numpy as np

from transferability.factors.estimator_grid import LayerScores, Measurements
from transferability.factors.estimators import ESTIMATORS, HEAD_ONLY, PER_LAYER
from transferability.factors.grid import DISTANCES
from transferability.factors.rank import interval, kendall_tau, spearman_rho
from transferability.plan import FACTOR_GROUP, base_net
from transferability.results.estimate import (
    NO_DATA,
    NOT_REPRODUCED,
    REPRODUCED,
    WITHIN_NOISE,
)

SVM, ANB = "SVM", "AnB"
BEST = "best"          # a correlation at each source's best layer (LEEP and NCE: the head)
BASE_A = base_net(FACTOR_GROUP, "A").key
CORRELATION_COLUMNS = ("scope", "source", "target", "layer", "estimator", "measured", "points",
                       "tau", "tau_lo", "tau_hi", "rho", "rho_lo", "rho_hi")


class Scores:
    """The measurements by key: an estimator's (1 + B,) replicates at (source, target, position),
    the SVM's and AnB's accuracies likewise."""

    def __init__(self, m: Measurements) -> None:
        self.m = m
        self.at: dict[tuple[str, str, int], LayerScores] = {
            (f.source, f.target, f.position): f for f in m.layers}
        self.sources = list(dict.fromkeys(f.source for f in m.layers))
        self.targets = [t for t in DISTANCES if any(f.target == t for f in m.layers)]

    def positions(self, source: str, target: str) -> list[int]:
        return sorted(p for s, t, p in self.at if (s, t) == (source, target))

    def score(self, est: str, source: str, target: str, position: int) -> np.ndarray | None:
        f = self.at.get((source, target, position))
        return None if f is None else f.scores.get(est)

    def svm(self, source: str, target: str, position: int) -> np.ndarray | None:
        f = self.at.get((source, target, position))
        return None if f is None else f.svm

    def measured(self, which: str, source: str, target: str, position: int) -> np.ndarray | None:
        if which == ANB:
            ok = source == BASE_A and target == DISTANCES[0]
            return self.m.anb.get(position) if ok else None
        return self.svm(source, target, position)

    def layer_pairs(self, est: str, which: str, source: str,
                    target: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(position, estimator, measured) for each layer of the source that has both."""
        out = []
        for p in self.positions(source, target):
            e, a = self.score(est, source, target, p), self.measured(which, source, target, p)
            if e is not None and a is not None:
                out.append((p, e, a))
        return out

    def source_level(self, est: str, source: str, target: str) -> np.ndarray | None:
        """The estimator's value of the source on the target: its top layer's (per replicate);
        LEEP and NCE: the head's."""
        values = [self.score(est, source, target, p) for p in self.positions(source, target)]
        values = [v for v in values if v is not None]
        return np.max(values, axis=0) if values else None

    def best_measured(self, source: str, target: str) -> np.ndarray | None:
        """The best layer's SVM accuracy, per replicate."""
        values = [a for p in self.positions(source, target)
                  if (a := self.svm(source, target, p)) is not None]
        return np.max(values, axis=0) if values else None


# --- correlations ---------------------------------------------------------------------------
def _correlation(scope: str, source: str, target: str, layer: str, est: str, which: str,
                 x: np.ndarray, y: np.ndarray) -> dict:
    """x, y: (1 + B, k) for k points; index 0 on all images."""
    tau, rho = kendall_tau(x, y), spearman_rho(x, y)
    t_lo, t_hi = interval(tau[1:])
    r_lo, r_hi = interval(rho[1:])
    return {"scope": scope, "source": source, "target": target, "layer": layer,
            "estimator": est, "measured": which, "points": x.shape[1],
            "tau": float(tau[0]), "tau_lo": t_lo, "tau_hi": t_hi,
            "rho": float(rho[0]), "rho_lo": r_lo, "rho_hi": r_hi, "_tau": tau}


def _stack(values: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack(values, axis=1)


def layer_correlations(sc: Scores) -> list[dict]:
    out = []
    for est in PER_LAYER:
        for which in (SVM, ANB):
            for source in sc.sources:
                for target in sc.targets:
                    pairs = sc.layer_pairs(est, which, source, target)
                    if len(pairs) >= 3:
                        out.append(_correlation("layers", source, target, "", est, which,
                                                _stack([e for _, e, _ in pairs]),
                                                _stack([a for _, _, a in pairs])))
    return out


def _source_points(sc: Scores, est: str, target: str, layer: str,
                   sources: Iterable[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = [], []
    for source in sources:
        if layer == BEST:
            e, a = sc.source_level(est, source, target), sc.best_measured(source, target)
        else:
            e, a = sc.score(est, source, target, int(layer)), sc.svm(source, target, int(layer))
        if e is not None and a is not None:
            xs.append(e)
            ys.append(a)
    return xs, ys


def _layers_of(sc: Scores, est: str) -> list[str]:
    if est in HEAD_ONLY:
        return [BEST]
    top = max((p for _, _, p in sc.at), default=0)
    return [str(p) for p in range(1, top + 1)] + [BEST]


def source_correlations(sc: Scores) -> list[dict]:
    out = []
    for est in ESTIMATORS:
        for target in sc.targets:
            for layer in _layers_of(sc, est):
                xs, ys = _source_points(sc, est, target, layer, sc.sources)
                if len(xs) >= 3:
                    out.append(_correlation("sources", "", target, layer, est, SVM, _stack(xs),
                                            _stack(ys)))
    return out


def target_correlations(sc: Scores) -> list[dict]:
    out = []
    for est in ESTIMATORS:
        for source in sc.sources:
            for layer in _layers_of(sc, est):
                xs, ys = [], []
                for target in sc.targets:
                    x, y = _source_points(sc, est, target, layer, [source])
                    xs += x
                    ys += y
                if len(xs) == len(sc.targets) >= 3:
                    out.append(_correlation("targets", source, "", layer, est, SVM, _stack(xs),
                                            _stack(ys)))
    return out


def correlations(m: Measurements) -> list[dict]:
    """Every rank correlation of the three scopes, as correlations.csv's rows (and `_tau`, the
    replicates of tau, for the verdicts)."""
    sc = Scores(m)
    return layer_correlations(sc) + source_correlations(sc) + target_correlations(sc)


# --- verdicts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EstimatorFinding:
    number: int
    claim: str
    estimator: str
    measured: str
    target: str
    quantity: str
    q: float | None
    bounds: tuple[float, float] | None  # q's bootstrap interval, or None
    noise: float | None                 # claim 1's seed noise
    verdict: str
    numbers: str
    unit: str = ""                      # "points": q and noise are fractions shown x 100

    def shown(self) -> str:
        if self.q is None:
            return "-"
        if self.unit == "points":
            return f"{100 * self.q:+.2f}"
        lo, hi = self.bounds or (float("nan"), float("nan"))
        return f"{self.q:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    def criterion(self) -> str:
        if self.number == 1:
            two = "2 x noise" if self.noise is None else f"2 x noise = {200 * self.noise:.2f}"
            return (f"reproduced if q = 0 (the top layer is the measured best for every "
                    f"source); within noise if q <= {two} points; not reproduced beyond")
        return ("reproduced if q's 95% interval lies above 0; not reproduced if below 0; "
                "within noise if it holds 0")


def interval_verdict(bounds: tuple[float, float] | None) -> str:
    if bounds is None or not np.isfinite(bounds).all():
        return NO_DATA
    if bounds[0] > 0:
        return REPRODUCED
    return NOT_REPRODUCED if bounds[1] < 0 else WITHIN_NOISE


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def best_layer(sc: Scores, est: str, which: str, target: str,
               noise: float | None) -> EstimatorFinding:
    gaps, exact, picks = [], 0, []
    for source in sc.sources:
        pairs = sc.layer_pairs(est, which, source, target)
        if not pairs:
            continue
        top = max(pairs, key=lambda x: (x[1][0], x[0]))   # the estimator's top layer
        best = max(pairs, key=lambda x: (x[2][0], x[0]))  # the measured best (a tie goes up)
        gaps.append(best[2][0] - top[2][0])
        exact += top[0] == best[0]
        picks.append(f"{top[0]}/{best[0]}")
    q = mean(gaps) if gaps else None
    if q is None or noise is None:
        v = NO_DATA
    elif q == 0:
        v = REPRODUCED
    else:
        v = WITHIN_NOISE if q <= 2 * noise else NOT_REPRODUCED
    numbers = (f"top layer the measured best for {exact} of {len(gaps)} sources (estimator's/"
               f"measured per source: {', '.join(picks)})")
    return EstimatorFinding(1, "predicts the best layer", est, which, target,
                            "mean over sources of acc(measured best) - acc(estimator's top "
                            "layer), in points", q, None, noise, v, numbers, "points")


def _mean_tau(rows: list[dict], est: str, which: str, target: str) -> tuple[np.ndarray | None,
                                                                           int]:
    taus = [r["_tau"] for r in rows if (r["scope"], r["estimator"], r["measured"], r["target"])
            == ("layers", est, which, target)]
    return (np.nanmean(np.stack(taus), axis=0) if taus else None), len(taus)


def orders_layers(rows: list[dict], est: str, which: str, target: str) -> EstimatorFinding:
    tau, count = _mean_tau(rows, est, which, target)
    q = None if tau is None else float(tau[0])
    bounds = None if tau is None else interval(tau[1:])
    return EstimatorFinding(2, "orders the layers", est, which, target,
                            "mean over sources of Kendall's tau across layers", q, bounds, None,
                            interval_verdict(bounds), f"{count} source(s)")


def orders_sources(rows: list[dict], est: str, target: str) -> EstimatorFinding:
    found = [r for r in rows if (r["scope"], r["estimator"], r["target"], r["layer"])
             == ("sources", est, target, BEST)]
    if not found:
        return EstimatorFinding(3, "orders the sources", est, SVM, target, "", None, None, None,
                                NO_DATA, "fewer than 3 sources")
    r = found[0]
    bounds = (r["tau_lo"], r["tau_hi"])
    return EstimatorFinding(3, "orders the sources", est, SVM, target,
                            "Kendall's tau across sources, each at its best layer "
                            "(LEEP, NCE: the head)", r["tau"], bounds, None,
                            interval_verdict(bounds),
                            f"{r['points']} sources; Spearman's rho {r['rho']:+.3f} "
                            f"[{r['rho_lo']:+.3f}, {r['rho_hi']:+.3f}]")


def _distance_order(values: Callable[[str, str], np.ndarray | None], sc: Scores) -> tuple[
        np.ndarray | None, str]:
    """min(mean d1, mean d2) per replicate, and the means per target."""
    if len(sc.targets) < 3:
        return None, "fewer than 3 targets"
    near, middle, far = sc.targets[:3]
    d1, d2, per = [], [], {t: [] for t in sc.targets}
    for source in sc.sources:
        got = {t: values(source, t) for t in (near, middle, far)}
        if any(v is None for v in got.values()):
            continue
        d1.append(got[near] - got[middle])
        d2.append(got[middle] - got[far])
        for t, v in got.items():
            per[t].append(v[0])
    if not d1:
        return None, "no source on all three targets"
    q = np.minimum(np.mean(d1, axis=0), np.mean(d2, axis=0))
    means = ", ".join(f"{t} {mean(v):.4g}" for t, v in per.items() if v)
    return q, f"mean over {len(d1)} sources: {means}"


def orders_targets(sc: Scores, est: str | None) -> EstimatorFinding:
    """Claim 4 for an estimator, or (est None) for the measured best-layer accuracy."""
    if est is None:
        q, numbers = _distance_order(sc.best_measured, sc)
        name, which = "(measured)", SVM
    else:
        q, numbers = _distance_order(lambda s, t: sc.source_level(est, s, t), sc)
        name, which = est, ""
    bounds = None if q is None else interval(q[1:])
    return EstimatorFinding(4, "orders the targets by distance (near > middle > far)", name,
                            which, "all", "min of the mean over sources of score(near) - "
                            "score(middle) and of score(middle) - score(far)",
                            None if q is None else float(q[0]), bounds, None,
                            interval_verdict(bounds), numbers)


def estimator_findings(m: Measurements, rows: list[dict]) -> list[EstimatorFinding]:
    """Every claim of the module's docstring, from the measurements and their correlations."""
    sc = Scores(m)
    out = []
    for est in PER_LAYER:
        for target in sc.targets:
            out.append(best_layer(sc, est, SVM, target, m.grid_noise.get(target)))
        out.append(best_layer(sc, est, ANB, DISTANCES[0], m.anb_noise))
    for est in PER_LAYER:
        out += [orders_layers(rows, est, SVM, t) for t in sc.targets]
        out.append(orders_layers(rows, est, ANB, DISTANCES[0]))
    out += [orders_sources(rows, est, t) for est in ESTIMATORS for t in sc.targets]
    out += [orders_targets(sc, est) for est in ESTIMATORS] + [orders_targets(sc, None)]
    return out

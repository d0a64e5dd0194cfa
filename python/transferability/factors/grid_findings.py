"""Azizpour et al.'s claims that the factors grid can test, each judged from the grid's table.

A source's transfer to a target is its best layer: the highest SVM accuracy over its layers (`svm
raw` unless said; of equal accuracies the higher layer). Noise, per target, comes from the one seed
pair of CaffeNet's own source: the square root of the mean over its hidden layers (every layer but
the classifier) of (a - b)^2 / 2, the two seeds' variance at each layer. One pair is a crude
estimate, and a difference of two sources' best layers carries more noise than one source's. An
effect claim q > 0 is "reproduced" when q > 2 x noise, "not reproduced" when q < -2 x noise and
"within noise" between; a "costs little" claim is reproduced when q <= max(1 point, 2 x noise). A
claim of two conditions (claim 3) takes the weaker verdict of the two. The best layer's position is
a whole number, so its noise (claim 4, in layers) is the same pair's spread of best positions with a
floor of half a layer: a move of the best layer must be more than one layer (more still if the seeds
disagree) on average over the sources. Claims 1-3 are judged per target; claim 4 compares near with
far only, so no claim rests on the middle target lying between them. Accuracies are fractions; q is
printed in points (claim 4: in layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import mean

from transferability.results.estimate import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE
from transferability.results.findings import NO_EFFECT_TOLERANCE

RAW, PCA = "svm raw", "svm pca+l2"
NOT_TESTED = "not tested"
NEAR, FAR = "near", "far"
POINTS, LAYERS = "points", "layers"
POSITION_NOISE_FLOOR = 0.5  # layers: one seed pair whose best layers agree says little


class Grid:
    """The SVM accuracies of a grid table, by (width, depth, seed, target, method, position)."""

    def __init__(self, rows: Sequence[dict]) -> None:
        self.acc: dict[tuple, float] = {}
        self.trained: dict[tuple[str, int], float] = {}  # (method, n) of the near target's nets
        self.pca = 0
        for r in rows:
            if str(r["method"]).startswith("svm"):
                key = (float(r["width"]), int(r["depth"]), int(r["seed"]), r["target"],
                       r["method"], int(r["position"]))
                self.acc[key] = float(r["accuracy"])
                if r["method"] == PCA and r.get("pca") not in (None, ""):
                    self.pca = int(r["pca"])
            elif r["target"] == NEAR:
                self.trained[(r["method"], int(r["position"] or 0))] = float(r["accuracy"])
        self.widths = sorted({k[0] for k in self.acc})
        self.depths = sorted({k[1] for k in self.acc})
        self.targets = list(dict.fromkeys(k[3] for k in self.acc))

    def layers(self, width: float, depth: int, target: str, method: str = RAW,
               seed: int = 0) -> dict[int, float]:
        return {k[5]: a for k, a in self.acc.items() if k[:5] == (width, depth, seed, target,
                                                                    method)}

    def best(self, width: float, depth: int, target: str, method: str = RAW,
             seed: int = 0) -> tuple[float, int] | None:
        """(accuracy, position) of the source's best layer on the target; a tie goes up."""
        found = self.layers(width, depth, target, method, seed)
        if not found:
            return None
        position = max(found, key=lambda p: (found[p], p))
        return found[position], position

    def best_acc(self, width: float, depth: int, target: str, method: str = RAW) -> float | None:
        b = self.best(width, depth, target, method)
        return None if b is None else b[0]

    def standard(self) -> tuple[float, int]:
        """CaffeNet's own source: width 1 and the middle depth (8 in the project's grid)."""
        return 1.0, self.depths[len(self.depths) // 2] if self.depths else 8

    def _seed_pair(self, target: str, method: str) -> tuple[dict[int, float], dict[int, float]]:
        width, depth = self.standard()
        one = self.layers(width, depth, target, method, 0)
        two = next((self.layers(width, depth, target, method, s) for s in (1, 2)
                    if self.layers(width, depth, target, method, s)), {})
        return one, two

    def noise(self, target: str, method: str = RAW) -> float | None:
        """sqrt of the mean over the hidden layers of the seed pair's variance (a - b)^2 / 2."""
        one, two = self._seed_pair(target, method)
        hidden = sorted(p for p in set(one) & set(two) if p < self.standard()[1])
        if not hidden:
            return None
        return sqrt(mean((one[p] - two[p]) ** 2 / 2 for p in hidden))

    def position_noise(self, targets: Sequence[str]) -> float | None:
        """The seed pair's spread of the best layer's position over the targets, in layers."""
        width, depth = self.standard()
        diffs = []
        for t in targets:
            one, two = self._seed_pair(t, RAW)
            if not one or not two:
                return None
            b1 = max(one, key=lambda p: (one[p], p))
            b2 = max(two, key=lambda p: (two[p], p))
            diffs.append((b1 - b2) ** 2 / 2)
        return max(POSITION_NOISE_FLOOR, sqrt(mean(diffs))) if diffs else None


@dataclass(frozen=True)
class GridFinding:
    number: int
    claim: str
    target: str
    quantity: str
    q: float | None
    noise: float | None
    verdict: str
    numbers: str
    unit: str = POINTS

    def _scaled(self, x: float) -> float:
        return 100 * x if self.unit == POINTS else x

    def shown(self) -> str:
        return "-" if self.q is None else f"{self._scaled(self.q):+.2f} {self.unit}"

    def criterion(self) -> str:
        if self.verdict == NOT_TESTED:
            return "-"
        two = "2 x noise" if self.noise is None else f"{self._scaled(2 * self.noise):.2f}"
        if self.number == 5:
            return f"reproduced if q <= max(1, {two}) points"
        if self.number == 3:
            return (f"reproduced if the first gain and q are both > {two} points, not "
                    f"reproduced if either is < -{two}")
        return f"reproduced if q > {two} {self.unit}, not reproduced if q < -{two}"


def _avg(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else mean(values)


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _sweep(g: Grid, t: str, by_width: bool) -> tuple[float | None, str]:
    """best(largest) - best(smallest) width (or depth), averaged over the other factor."""
    steps, over = (g.widths, g.depths) if by_width else (g.depths, g.widths)

    def best(step, other):
        return g.best_acc(step, other, t) if by_width else g.best_acc(other, step, t)

    q = _avg([_sub(best(steps[-1], o), best(steps[0], o)) for o in over])
    names = [f"x{w:g}" for w in g.widths] if by_width else [str(d) for d in g.depths]
    other = (lambda o: f"depth {o}") if by_width else (lambda o: f"x{o:g}")
    by = "; ".join(f"{other(o)}: " + " / ".join(_pts(best(s, o)) for s in steps) for o in over)
    return q, f"best layer, {'widths' if by_width else 'depths'} {' / '.join(names)}: {by}"


WEAKEST = (NO_DATA, NOT_REPRODUCED, WITHIN_NOISE, REPRODUCED)


def verdict(q: float | None, effect: bool, spread: float | None) -> str:
    """The grid's rule on one seed pair's noise (the module's docstring)."""
    if q is None or spread is None:
        return NO_DATA
    if effect:
        if q > 2 * spread:
            return REPRODUCED
        return NOT_REPRODUCED if q < -2 * spread else WITHIN_NOISE
    return REPRODUCED if abs(q) <= max(NO_EFFECT_TOLERANCE, 2 * spread) else NOT_REPRODUCED


def _saturating(g: Grid, t: str) -> GridFinding:
    """Depth helps (the first added layer gains) and the second added layer gains less."""
    claim = "deeper sources transfer better up to a point: the gain from depth shrinks"
    quantity = "gain of the first added layer - gain of the second (mean over widths)"
    noise = g.noise(t)
    if len(g.depths) < 3:
        return GridFinding(3, claim, t, quantity, None, noise, NO_DATA, "needs three depths")
    lo, mid, hi = g.depths[0], g.depths[len(g.depths) // 2], g.depths[-1]
    first = _avg([_sub(g.best_acc(w, mid, t), g.best_acc(w, lo, t)) for w in g.widths])
    second = _avg([_sub(g.best_acc(w, hi, t), g.best_acc(w, mid, t)) for w in g.widths])
    q = _sub(first, second)
    v = min(verdict(first, True, noise), verdict(q, True, noise), key=WEAKEST.index)
    return GridFinding(3, claim, t, quantity, q, noise, v,
                       f"gain {lo}->{mid}: {_pts(first)}, gain {mid}->{hi}: {_pts(second)} "
                       "(points, mean over widths)")


def _gap(g: Grid, w: float, d: int, t: str) -> float | None:
    """How far the last hidden layer (the one below the classifier) lies below the best layer."""
    found = g.layers(w, d, t)
    best = g.best(w, d, t)
    return None if best is None or d - 1 not in found else best[0] - found[d - 1]


def _lower(g: Grid, far: str) -> GridFinding:
    """Near's best layer minus far's, in layers, over every source."""
    pairs = [(w, d) for w in g.widths for d in g.depths]

    def position(w: float, d: int, t: str) -> float | None:
        b = g.best(w, d, t)
        return None if b is None else float(b[1])

    q = _avg([_sub(position(w, d, NEAR), position(w, d, far)) for w, d in pairs])
    where = []
    for t in g.targets:
        found = [p for w, d in pairs if (p := position(w, d, t)) is not None]
        if found:
            where.append(f"{t} {mean(found):.2f} (layers {int(min(found))}-{int(max(found))})")
    gaps = {t: _pts(_avg([_gap(g, w, d, t) for w, d in pairs])) for t in (NEAR, far)}
    numbers = ("best layer's position, mean over sources: " + ", ".join(where) +
               f"; the last hidden layer lies below the best by {gaps[NEAR]} points on near "
               f"and {gaps[far]} on {far} (not judged)")
    noise = g.position_noise([NEAR, far])
    return GridFinding(4, "the best layer moves lower as the target moves away", far,
                       f"mean over sources of best layer(near) - best layer({far})", q, noise,
                       verdict(q, True, noise), numbers, LAYERS)


def _pca_cost(g: Grid, t: str) -> GridFinding:
    pairs = [(w, d) for w in g.widths for d in g.depths]
    q = _avg([_sub(g.best_acc(w, d, t), g.best_acc(w, d, t, PCA)) for w, d in pairs])
    noise = g.noise(t, PCA)
    if q is None or noise is None:
        v = NO_DATA
    else:
        v = REPRODUCED if q <= max(NO_EFFECT_TOLERANCE, 2 * noise) else NOT_REPRODUCED
    dims = f"to {g.pca} dimensions" if g.pca else "reduced"
    return GridFinding(5, f"PCA ({dims}) + L2 costs little for the near target", t,
                       "mean over sources of best(raw) - best(PCA + L2)", q, noise, v,
                       f"best layer raw {_pts(_avg([g.best_acc(w, d, t) for w, d in pairs]))}, "
                       f"PCA + L2 {_pts(_avg([g.best_acc(w, d, t, PCA) for w, d in pairs]))} "
                       "(mean over sources)")


def _fine_tuning(g: Grid) -> GridFinding:
    width, depth = g.standard()
    ft = [a for (m, _), a in g.trained.items() if m == "AnB+"]
    svm = g.best_acc(width, depth, NEAR)
    numbers = (f"near: best AnB+ {_pts(max(ft)) if ft else '-'}, best linear SVM of baseA "
               f"{_pts(svm)}; fine-tuned nets exist for the near target only")
    return GridFinding(6, "fine-tuning helps more, the further the target is from the source",
                       NEAR, "best AnB+ - best SVM, near against far", None, None, NOT_TESTED,
                       numbers)


def _judge(number: int, claim: str, target: str, quantity: str,
           measured: tuple[float | None, str], noise: float | None) -> GridFinding:
    q, numbers = measured
    return GridFinding(number, claim, target, quantity, q, noise, verdict(q, True, noise),
                       numbers)


def grid_findings(rows: Sequence[dict]) -> list[GridFinding]:
    """Every claim the grid can test, per target where the claim is about any target."""
    g = Grid(rows)
    out = [_judge(1, "wider sources transfer better", t,
                  "mean over depths of best(widest) - best(narrowest)", _sweep(g, t, True),
                  g.noise(t)) for t in g.targets]
    out += [_judge(2, "deeper sources transfer better", t,
                   "mean over widths of best(deepest) - best(shallowest)", _sweep(g, t, False),
                   g.noise(t)) for t in g.targets]
    out += [_saturating(g, t) for t in g.targets]
    out.append(_lower(g, FAR if FAR in g.targets else g.targets[-1]))
    out.append(_pca_cost(g, NEAR))
    out.append(_fine_tuning(g))
    return out


def best_table(rows: Sequence[dict]) -> list[dict[str, str]]:
    """Per target: CaffeNet's best layer, the best source and the best width at its depth."""
    g = Grid(rows)
    width, depth = g.standard()
    out = []
    for t in g.targets:
        own = g.best(width, depth, t)
        found = [(b, w, d) for w in g.widths for d in g.depths if (b := g.best(w, d, t))]
        top = max(found, key=lambda x: x[0][0]) if found else None
        at_depth = [(b, w) for b, w, d in found if d == depth]
        wide = max(at_depth, key=lambda x: x[0][0]) if at_depth else None
        out.append({
            "target": t,
            "CaffeNet's best layer": f"{own[1]} of {depth} ({_pts(own[0])})" if own else "-",
            "best source": (f"x{top[1]:g}, depth {top[2]}, layer {top[0][1]} ({_pts(top[0][0])})"
                            if top else "-"),
            f"best width at depth {depth}": f"x{wide[1]:g} ({_pts(wide[0][0])})" if wide else "-",
            "noise (points)": _pts(g.noise(t)),
        })
    return out

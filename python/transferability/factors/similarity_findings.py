"""Three claims about why transfer falls off, judged from the CKA of the study's nets, per kernel.

Every interval is the 95% percentile interval of the bootstrap replicates over the images
(factors/rank.py's `interval`); a quantity q of several CKA values is computed replicate by
replicate, so its interval keeps their pairing. The verdict words are results/estimate.py's.

1. baseA and baseB are most similar at conv1 and least at fc7-fc8:
   q = min(CKA(conv1) - the largest CKA of conv2..fc8, the smallest CKA of conv1..fc6 - the
   smaller of CKA(fc7), CKA(fc8)), of the pair baseA-baseB. Reproduced if q's interval lies above
   0, not reproduced if below 0, within noise if it holds 0.
2. The layer where baseA-baseB similarity falls below the seed floor's interval is where AnB
   starts to fall below baseB. At each layer l, baseA-baseB is below the floor when its interval
   lies wholly below the floor's (the mean CKA of baseB with its seed replicates), above it when
   wholly above, within noise when they overlap; A{n}B has fallen below baseB when the interval
   of its accuracy less baseB's (the study's plotted metric, less the mean of baseB and its seed
   replicates; results/estimate.py's interval: over the splits, or from the seed noise for one)
   lies below 0, has not when it lies above, within noise when it holds 0. The onsets: the
   first layer below the floor (conv1..fc8), the first n whose A{n}B has fallen (1..7; none: not
   within n = 1..7, which agrees with an onset at fc8 or none). Reproduced if the onsets agree.
   Otherwise, at the earlier onset the other side has not yet dropped: within noise if its
   status there is within noise, not reproduced if it clearly has not dropped.
3. Fine-tuned AnB+ stays closer to its source at low layers than at high ones: q = the mean over
   n = 1..7 of (the mean CKA(baseA, A{n}B+) at conv1-conv2 less its mean at fc6-fc8). Reproduced
   if q's interval lies above 0, not reproduced if below 0, within noise if it holds 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transferability.factors.rank import interval
from transferability.factors.similarity import NS, Measured
from transferability.results import estimate, treatments
from transferability.results.estimate import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE

BELOW, ABOVE = "below", "above"
LOW, HIGH = ("conv1", "conv2"), ("fc6", "fc7", "fc8")
CLAIMS = {
    1: "baseA and baseB are most similar at conv1 and least at fc7-fc8",
    2: "the layer where baseA-baseB similarity falls below the seed floor's interval is where "
       "AnB starts to fall below baseB",
    3: "fine-tuned AnB+ stays closer to its source (baseA) at low layers (conv1-conv2) than at "
       "high ones (fc6-fc8)",
}
CRITERIA = {
    1: "q = min(CKA(conv1) - max CKA(conv2..fc8), min CKA(conv1..fc6) - min(CKA(fc7), "
       "CKA(fc8))) of baseA-baseB; " + estimate.criterion(None),
    2: "the first layer whose baseA-baseB interval lies wholly below the seed floor's interval "
       "against the first n whose A{n}B less baseB has its interval below 0: reproduced if they "
       "agree; else within noise if, at the earlier onset, the other side's interval holds the "
       "boundary, not reproduced if it clearly has not dropped",
    3: "q = mean over n of (mean CKA(baseA, A{n}B+) at conv1-conv2 - at fc6-fc8); "
       + estimate.criterion(None),
}


@dataclass(frozen=True)
class Claim:
    number: int
    kernel: str
    q: str            # the quantity as printed
    low: float | None
    high: float | None
    verdict: str
    detail: str       # what the quantity is made of

    @property
    def claim(self) -> str:
        return CLAIMS[self.number]

    @property
    def criterion(self) -> str:
        return CRITERIA[self.number]


def above_zero(low: float, high: float) -> str:
    """The effect verdict of an interval (results/estimate.py's rule on a percentile interval)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return NO_DATA
    return REPRODUCED if low > 0 else NOT_REPRODUCED if high < 0 else WITHIN_NOISE


def _q_claim(number: int, kernel: str, q: np.ndarray | None, detail: str) -> Claim:
    if q is None:
        return Claim(number, kernel, "-", None, None, NO_DATA, detail)
    low, high = interval(q[1:])
    return Claim(number, kernel, f"{q[0]:+.3f} [{low:+.3f}, {high:+.3f}]", low, high,
                 above_zero(low, high), detail)


def _curve(m: Measured, kernel: str, kind: str, a: str, b: str) -> dict[str, np.ndarray]:
    return {layer: v for layer in m.layers
            if (v := m.pooled(kernel, kind, a, b, layer)) is not None}


def claim1(m: Measured, kernel: str) -> Claim:
    curve = _curve(m, kernel, "baseA-baseB", "baseA", "baseB")
    if len(curve) < len(m.layers):
        return _q_claim(1, kernel, None, "no baseA-baseB pair")
    v = np.stack([curve[layer] for layer in m.layers])  # (layers, 1 + B)
    first = v[0] - v[1:].max(axis=0)
    last = v[:-2].min(axis=0) - v[-2:].min(axis=0)
    best, worst = m.layers[int(v[:, 0].argmax())], m.layers[int(v[:, 0].argmin())]
    return _q_claim(1, kernel, np.minimum(first, last),
                    f"most similar layer {best}, least {worst} (all images)")


def similarity_status(m: Measured, kernel: str) -> dict[str, str]:
    """layer -> baseA-baseB against the seed floor: below, above or within noise."""
    out = {}
    for layer in m.layers:
        ab, floor = m.pooled(kernel, "baseA-baseB", "baseA", "baseB", layer), m.floor(kernel, layer)
        if ab is None or floor is None:
            continue
        (ab_lo, ab_hi), (fl_lo, fl_hi) = interval(ab[1:]), interval(floor[1:])
        out[layer] = BELOW if ab_hi < fl_lo else ABOVE if ab_lo > fl_hi else WITHIN_NOISE
    return out


def transfer_drops(m: Measured) -> dict[int, estimate.Estimate]:
    """n -> A{n}B less baseB over the splits measured (results/estimate.py's interval)."""
    reps = treatments.units(m.acc, m.groups, ("B",))
    return treatments.treatment_means(m.acc, reps, "AnB", estimate.noise(m.acc, m.groups), True)


def accuracy_status(m: Measured) -> dict[int, str]:
    """n -> whether A{n}B has fallen below baseB: below, above or within noise."""
    out = {}
    for n, e in transfer_drops(m).items():
        if e.low is not None and e.high is not None:
            out[n] = BELOW if e.high < 0 else ABOVE if e.low > 0 else WITHIN_NOISE
    return out


def _onset(status: dict, keys) -> int | None:
    """The position (1-based) of the first key whose status is below; None if none is."""
    return next((i for i, k in enumerate(keys, 1) if status.get(k) == BELOW), None)


def claim2(m: Measured, kernel: str) -> Claim:
    sim, acc = similarity_status(m, kernel), accuracy_status(m)
    if len(sim) < len(m.layers) or len(acc) < len(NS):
        return Claim(2, kernel, "-", None, None, NO_DATA,
                     f"layers with a floor: {len(sim)} of {len(m.layers)}; n with AnB and an "
                     f"interval: {len(acc)} of {len(NS)}")
    s_on, a_on = _onset(sim, m.layers), _onset(acc, NS)
    s_text = m.layers[s_on - 1] if s_on else "none"
    a_text = f"n = {a_on}" if a_on else "none within n = 1..7"
    detail = (f"below the floor: {', '.join(f'{k} {v}' for k, v in sim.items())}; "
              f"AnB below baseB: {', '.join(f'n={k} {v}' for k, v in acc.items())}")
    q = f"similarity onset {s_text}, transfer onset {a_text}"
    agree = s_on == a_on or (a_on is None and (s_on is None or s_on == len(m.layers)))
    if agree:
        return Claim(2, kernel, q, None, None, REPRODUCED, detail)
    earlier = min(x for x in (s_on, a_on) if x is not None)
    if s_on == earlier:  # the transfer has not dropped at that layer
        other = acc.get(earlier) if earlier <= len(NS) else ABOVE
    else:
        other = sim.get(m.layers[earlier - 1])
    verdict = WITHIN_NOISE if other == WITHIN_NOISE else NOT_REPRODUCED
    return Claim(2, kernel, q, None, None, verdict, detail)


def claim3(m: Measured, kernel: str) -> Claim:
    per_n = {}
    for n in NS:
        curve = _curve(m, kernel, "baseA-AnB+", "baseA", f"A{n}B+")
        if all(layer in curve for layer in LOW + HIGH):
            per_n[n] = (np.mean([curve[k] for k in LOW], axis=0)
                        - np.mean([curve[k] for k in HIGH], axis=0))
    if not per_n:
        return _q_claim(3, kernel, None, "no baseA-AnB+ pair")
    return _q_claim(3, kernel, np.mean(list(per_n.values()), axis=0),
                    f"over {len(per_n)} of {len(NS)} n; per n (all images): "
                    + ", ".join(f"n={n} {v[0]:+.3f}" for n, v in per_n.items()))


def claims(m: Measured, kernels: tuple[str, ...]) -> list[Claim]:
    return [judge(m, kernel) for judge in (claim1, claim2, claim3) for kernel in kernels]

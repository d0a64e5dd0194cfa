"""The similarity's outputs: similarity.csv (every CKA with its interval), claims.csv (the three
claims judged, which the HTML report shows), similarity.png/.pdf (CKA by layer for each pair,
beside Figure 2's measured transfer) and findings.md naming the commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from transferability.disk import write_csv, write_text
from transferability.factors import similarity_findings
from transferability.factors.rank import interval
from transferability.factors.report import FLOATS
from transferability.factors.similarity import KERNELS, NS, SEED_PAIRS, Measured, pairs
from transferability.factors.similarity_findings import Claim
from transferability.results import estimate, treatments
from transferability.results.compare import markdown_paragraphs, markdown_table
from transferability.results.figures import X_LABEL, mean_lines, save
from transferability.results.report import provenance

COLUMNS = ("dataset", "splits", "kernel", "pair", "first", "second", "n", "layer", "cka",
           "cka_lo", "cka_hi", "images", "bootstrap")
CLAIM_COLUMNS = ("dataset", "splits", "claim", "kernel", "statement", "q", "q_lo", "q_hi",
                 "verdict", "criterion", "detail")
POOLED = "mean"


def _row(m: Measured, splits: str, kernel: str, kind: str, a: str, b: str, n: int, layer: str,
         v: np.ndarray, images: int) -> dict:
    low, high = interval(v[1:])
    return dict(dataset=m.dataset, splits=splits, kernel=kernel, pair=kind, first=a, second=b,
                n=n or "", layer=layer, cka=float(v[0]), cka_lo=low, cka_hi=high, images=images,
                bootstrap=m.bootstrap)


def table_rows(m: Measured) -> list[dict]:
    """Each split's CKA, then (with several splits) their mean."""
    rows = []
    for kernel in KERNELS:
        for kind, a, b, n in pairs():
            for layer in m.layers:
                for g in m.groups:
                    v = m.cka.get((g, kernel, kind, a, b, layer))
                    if v is not None:
                        rows.append(_row(m, g, kernel, kind, a, b, n, layer, v, m.images[g]))
                found = m.groups_with(kernel, kind, a, b)
                if len(found) > 1:
                    rows.append(_row(m, f"{POOLED} of {' '.join(found)}", kernel, kind, a, b, n,
                                     layer, m.pooled(kernel, kind, a, b, layer),
                                     sum(m.images[g] for g in found)))
    return rows


def claim_rows(m: Measured, found: Sequence[Claim]) -> list[dict]:
    return [dict(dataset=m.dataset, splits=" ".join(m.groups), claim=c.number, kernel=c.kernel,
                 statement=c.claim, q=c.q, q_lo=c.low, q_hi=c.high, verdict=c.verdict,
                 criterion=c.criterion, detail=c.detail)
            for c in found]


# --- the figure -------------------------------------------------------------------------------
def _band(ax, m: Measured, values: Sequence[np.ndarray | None], **style) -> None:
    xs = [i for i, v in enumerate(values, 1) if v is not None]
    if not xs:
        return
    vs = [values[i - 1] for i in xs]
    lows, highs = zip(*(interval(v[1:]) for v in vs), strict=True)
    line, = ax.plot(xs, [v[0] for v in vs], marker="o", markersize=3, **style)
    ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)


def _layer_axes(ax, m: Measured, title: str) -> None:
    ax.set_xticks(range(1, len(m.layers) + 1), m.layers, fontsize=7)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)


def _per_n(ax, m: Measured, kernel: str, kind: str, first: str, second: str) -> None:
    colours = colormaps["viridis"]
    for n in NS:
        a, b = first.format(n=n), second.format(n=n)
        _band(ax, m, [m.pooled(kernel, kind, a, b, layer) for layer in m.layers],
              color=colours((n - 1) / (len(NS) - 1)), label=f"n={n}", linewidth=1.2)


def _transfer(ax, m: Measured) -> None:
    reps = treatments.units(m.acc, m.groups, ("B",))
    noise = estimate.noise(m.acc, m.groups)
    mean_lines(ax, {name: treatments.treatment_means(m.acc, reps, name, noise, True)
                    for name in treatments.TREATMENTS})
    ax.set_xticks(range(len(NS) + 1))
    ax.grid(alpha=0.3)
    ax.set_xlabel(X_LABEL, fontsize=8)
    ax.set_ylabel("top-1 accuracy less baseB", fontsize=8)
    ax.set_title("Figure 2's measured transfer (the same nets)", fontsize=9)


def figure(m: Measured) -> Figure:
    """A row per kernel: baseA-baseB with the seed floor, baseB-AnB, AnB+-BnB+ and baseA-AnB+
    by layer (95% bands over the images); beside them the transfer the same nets measured."""
    fig = Figure(figsize=(19, 8), layout="constrained")
    mosaic = [[f"{k} {i}" for i in range(4)] + ["transfer"] for k in KERNELS]
    axes = fig.subplot_mosaic(mosaic)
    for kernel in KERNELS:
        ax = axes[f"{kernel} 0"]
        for a, b in SEED_PAIRS:
            _band(ax, m, [m.pooled(kernel, "seed floor", a, b, layer) for layer in m.layers],
                  color="gray", linestyle="--", linewidth=1, label=f"{a} vs {b} (seed floor)")
        _band(ax, m, [m.pooled(kernel, "baseA-baseB", "baseA", "baseB", layer)
                      for layer in m.layers], color="black", linewidth=2, label="baseA vs baseB")
        _layer_axes(ax, m, f"{kernel} CKA: baseA vs baseB, and baseB's seed floor")
        ax.set_ylabel(f"{kernel} CKA", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        for i, (kind, first, second, title) in enumerate((
                ("baseB-AnB", "baseB", "A{n}B", "baseB vs AnB (frozen transfer)"),
                ("AnB+-BnB+", "A{n}B+", "B{n}B+", "AnB+ vs BnB+ (both fine-tuned)"),
                ("baseA-AnB+", "baseA", "A{n}B+", "baseA vs AnB+ (its source)")), 1):
            ax = axes[f"{kernel} {i}"]
            _per_n(ax, m, kernel, kind, first, second)
            _layer_axes(ax, m, f"{kernel} CKA: {title}")
            if i == 1:
                ax.legend(fontsize=7, loc="lower left", ncols=2)
    _transfer(axes["transfer"], m)
    splits = ", ".join(m.groups)
    fig.suptitle(f"Layer-by-layer similarity (CKA) of the {m.dataset} nets, {splits}: "
                 f"{'; '.join(f'{m.images[g]} validation images of {g} half B' for g in m.groups)}"
                 f", bands 95% over {m.bootstrap} bootstrap replicates of the images",
                 fontsize=10)
    return fig


# --- findings.md ---------------------------------------------------------------------------------
def _layer_table(m: Measured, kernel: str) -> list[str]:
    """CKA by layer (all images) of the pairs the claims rest on."""
    wanted = [("baseA-baseB", "baseA", "baseB", "baseA-baseB")]
    wanted += [("seed floor", a, b, f"{a}-{b}") for a, b in SEED_PAIRS]
    wanted += [("baseB-AnB", "baseB", f"A{n}B", f"baseB-A{n}B") for n in NS]
    wanted += [("baseA-AnB+", "baseA", f"A{n}B+", f"baseA-A{n}B+") for n in NS]
    wanted += [("AnB+-BnB+", f"A{n}B+", f"B{n}B+", f"A{n}B+-B{n}B+") for n in NS]
    rows = []
    for kind, a, b, label in wanted:
        row: dict[str, object] = {"pair": label}
        for layer in m.layers:
            v = m.pooled(kernel, kind, a, b, layer)
            row[layer] = "-" if v is None else f"{v[0]:.3f}"
        rows.append(row)
    return markdown_table(rows)


def _widths(m: Measured) -> str:
    widths = [np.subtract(*reversed(interval(v[1:]))) for v in m.cka.values()]
    if not widths:
        return "no CKA was computed"
    return (f"the 95% intervals of the {len(widths)} CKA values are {np.median(widths):.3f} wide "
            f"at the median, {np.max(widths):.3f} at the widest")


def _range(m: Measured) -> str:
    """How far baseA-baseB's CKA moves across the layers (all images), per kernel."""
    out = []
    for kernel in KERNELS:
        vs = [v[0] for layer in m.layers
              if (v := m.pooled(kernel, "baseA-baseB", "baseA", "baseB", layer)) is not None]
        if vs:
            out.append(f"{kernel} {min(vs):.3f} to {max(vs):.3f}")
    return ("baseA-baseB's CKA across the layers: " + ", ".join(out)) if out else "no baseA-baseB"


def _starts(m: Measured) -> str:
    """The solvers' seeds: baseA and baseB share theirs (the plan's), so their initial weights."""
    seeds = ", ".join(f"{key} {seed}" for key, seed in m.seeds.items())
    return (f"the solvers' random_seed: {seeds}. Nets with the same seed and shapes start from "
            "the same weights: baseA and baseB differ in their data only, baseB and a seed "
            "replicate in their start only")


def _cost(m: Measured, seconds: float | None) -> list[dict[str, str]]:
    names = set(n for _, a, b, _ in pairs() for n in (a, b))
    keys = [f"{g}/{name}" for g in m.groups for name in names - set(m.missing[g])]
    train = [m.training[k] for k in keys if k in m.training]
    rows = [{"what": f"CKA: the activations of {len(keys)} nets (pycaffe forward passes, HDF5)",
             "wall seconds": f"{m.seconds.get('features', 0):.0f}"},
            {"what": "CKA: Gram matrices (both kernels, every net and layer)",
             "wall seconds": f"{m.seconds.get('kernels', 0):.0f}"},
            {"what": f"CKA: every pair, layer and kernel, {m.bootstrap} bootstrap replicates",
             "wall seconds": f"{m.seconds.get('cka', 0):.0f}"}]
    if seconds is not None:
        rows.append({"what": "the whole command up to writing these files",
                     "wall seconds": f"{seconds:.0f}"})
    if train:
        rows.append({"what": f"training these {len(train)} nets (the sum of their logs' wall "
                             "times; make -j2 trains two at once)",
                     "wall seconds": f"{sum(train):.0f}"})
    return rows


def findings_markdown(m: Measured, found: Sequence[Claim], where: Mapping[str, str],
                      command: str, seconds: float | None) -> str:
    missing = "; ".join(f"{g}: {', '.join(v)}" for g, v in m.missing.items() if v)
    lines = [
        f"# Why transfer falls off: layer-by-layer similarity (CKA) of the {m.dataset} nets",
        "",
        f"Splits {', '.join(m.groups)}; commit {where['commit']}, {where['date']}, "
        f"{where['machine']}.",
        f"Made by `{command}`.",
        "",
        f"- images: {', '.join(f'{m.images[g]} of {g} half B' for g in m.groups)}'s validation "
        "images, spread evenly over the LMDB (every class), the same for every net of a split. "
        f"How far that many pin CKA down: {_widths(m)} (bootstrap over the images, "
        f"{m.bootstrap} replicates), beside {_range(m)}; the Gram matrices grow as the square "
        "of the images (1000: 8 MB each, every net of a split at once per layer).",
        "- kernels: linear CKA, and RBF CKA with sigma the median distance between two images' "
        "activations (the median heuristic), fixed on all images for every replicate.",
        "- activations: each learnable layer's blob after its ReLU (fc8: the logits), the whole "
        "map flattened, from the finished nets' final .caffemodel through pycaffe, each net with "
        "its own TEST transform.",
        f"- starts: {_starts(m)}.",
        "- accuracies (claim 2 and the figure's transfer panel): the study's plotted metric, each "
        "net less the mean of baseB and its seed replicates.",
        f"- nets of the pairs not finished (their pairs left out): {missing or 'none'}.",
        "",
        *markdown_paragraphs(similarity_findings.__doc__ or ""),
        "## Verdicts",
        "",
        *markdown_table([{"claim": c.number, "kernel": c.kernel, "q": c.q, "verdict": c.verdict}
                         for c in found]),
        "",
    ]
    for c in found:
        lines += [f"- claim {c.number} ({c.kernel}): {c.claim}. Criterion: {c.criterion}. "
                  f"{c.detail}. **{c.verdict}**"]
    for kernel in KERNELS:
        lines += ["", f"## {kernel.capitalize()} CKA by layer (all images)", "",
                  *_layer_table(m, kernel)]
    lines += ["", "## Cost", "",
              "Wall time on this machine (shared with other work: see BENCHMARKS.md), beside "
              "the training of the nets it explains.", "", *markdown_table(_cost(m, seconds))]
    return "\n".join(lines) + "\n"


def publish(m: Measured, out: Path, command: str, seconds: float | None = None,
            ) -> tuple[list[Claim], list[Path]]:
    """The claims judged, and similarity.csv, claims.csv, similarity.png/.pdf and findings.md in
    `out`, each whole or not at all."""
    found = similarity_findings.claims(m, KERNELS)
    written = [write_csv(out / "similarity.csv", table_rows(m), COLUMNS, FLOATS),
               write_csv(out / "claims.csv", claim_rows(m, found), CLAIM_COLUMNS, FLOATS)]
    written += save(figure(m), out, "similarity")
    written.append(write_text(out / "findings.md",
                              findings_markdown(m, found, provenance(), command, seconds)))
    return found, written

"""The estimators' outputs: estimators.csv (each score beside the measured accuracies),
correlations.csv, the figure (estimator against measured accuracy, one panel per target) and
findings.md with the verdicts and what each estimator cost beside the training it would replace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import mean

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from transferability import plan
from transferability.disk import write_csv, write_text
from transferability.factors import estimator_findings, estimators
from transferability.factors.estimator_findings import (
    ANB,
    BASE_A,
    CORRELATION_COLUMNS,
    EstimatorFinding,
    Scores,
)
from transferability.factors.estimator_grid import Measurements
from transferability.factors.estimators import ESTIMATORS, HEAD_ONLY
from transferability.factors.grid import TARGETS
from transferability.factors.grid_report import WIDTH_COLOURS
from transferability.factors.rank import interval
from transferability.factors.report import FLOATS
from transferability.factors.svm import C_GRID, FOLDS
from transferability.results.compare import markdown_paragraphs, markdown_table
from transferability.results.figures import save
from transferability.results.report import provenance

COLUMNS = ("width", "depth", "seed", "source", "target", "target_set", "layer", "position",
           "estimator", "score", "score_lo", "score_hi", "seconds", "n_train", "dims",
           "svm_accuracy", "svm_lo", "svm_hi", "svm_seconds", "anb_accuracy", "anb_lo", "anb_hi")
DEPTH_MARKERS = ("v", "o", "^")
SVM_FITS = FOLDS * len(C_GRID) + 1  # the grid's cross-validation of C, then its final fit


def _interval(replicates: np.ndarray) -> tuple[float, float]:
    return interval(replicates[1:])


def table_rows(m: Measurements) -> list[dict]:
    """A row per source, target, layer and estimator that applies there."""
    sets = {t.distance: t.name for t in TARGETS}
    rows = []
    for f in m.layers:
        net = m.sources[f.source]
        anb = m.anb.get(f.position) if (f.source, f.target) == (BASE_A, "near") else None
        for est, values in f.scores.items():
            row = {"width": net.width, "depth": net.depth, "seed": net.seed,
                   "source": f.source, "target": f.target, "target_set": sets[f.target],
                   "layer": f.layer, "position": f.position, "estimator": est,
                   "score": float(values[0]), "seconds": f.seconds[est],
                   "n_train": f.n_train, "dims": f.dims}
            row["score_lo"], row["score_hi"] = _interval(values)
            if f.svm is not None:
                row["svm_seconds"] = f.svm_seconds
            for name, acc in (("svm", f.svm), ("anb", anb)):
                if acc is not None:
                    row[f"{name}_accuracy"] = float(acc[0])
                    row[f"{name}_lo"], row[f"{name}_hi"] = _interval(acc)
            rows.append(row)
    return rows


# --- the figure -------------------------------------------------------------------------------
def _layer_panel(ax, sc: Scores, est: str, target: str, colours) -> None:
    for source in sc.sources:
        pairs = [(p, e[0], a[0]) for p, e, a in sc.layer_pairs(est, "SVM", source, target)]
        if not pairs:
            continue
        xs, ys = [e for _, e, _ in pairs], [100 * a for _, _, a in pairs]
        ax.plot(xs, ys, "-", color="black" if source == BASE_A else "grey",
                lw=1.0 if source == BASE_A else 0.5, alpha=0.8 if source == BASE_A else 0.4)
        ax.scatter(xs, ys, c=[p for p, _, _ in pairs], cmap=colours.cmap, norm=colours.norm,
                   s=14, zorder=3)
    anb = [(e[0], 100 * a[0]) for _, e, a in sc.layer_pairs(est, ANB, BASE_A, target)]
    if anb:
        ax.plot(*zip(*anb, strict=True), "s--", color="#b2182b", ms=4, mfc="white",
                label="AnB of split 0 (baseA's layers 1..n frozen, the rest trained on B)")


def _head_panel(ax, sc: Scores, est: str, target: str) -> None:
    widths, depths = plan.FACTOR_WIDTHS, plan.FACTOR_DEPTHS
    for source in sc.sources:
        e, a = sc.source_level(est, source, target), sc.best_measured(source, target)
        if e is None or a is None:
            continue
        net = sc.m.sources[source]
        ax.scatter([e[0]], [100 * a[0]], color=WIDTH_COLOURS[widths.index(net.width) % 3],
                   marker=DEPTH_MARKERS[depths.index(net.depth) % 3], s=30,
                   edgecolor="black" if net.seed else "none",
                   label=f"source x{net.width:g}, depth {net.depth}"
                         + (f", seed {net.seed}" if net.seed else ""))


class _Colours:
    def __init__(self, top: int) -> None:
        self.cmap, self.norm = colormaps["viridis"], Normalize(1, max(top, 2))


def figure(m: Measurements) -> Figure:
    sc = Scores(m)
    top = max((f.position for f in m.layers), default=8)
    colours = _Colours(top)
    fig = Figure(figsize=(4.2 * len(sc.targets), 3.1 * len(ESTIMATORS) + 1.4),
                 layout="constrained")
    axes = fig.subplots(len(ESTIMATORS), len(sc.targets), squeeze=False)
    for r, est in enumerate(ESTIMATORS):
        for c, target in enumerate(sc.targets):
            ax = axes[r][c]
            if est in HEAD_ONLY:
                _head_panel(ax, sc, est, target)
            else:
                _layer_panel(ax, sc, est, target, colours)
            about = next(t for t in TARGETS if t.distance == target)
            ax.set_title(f"{est} on {target} ({about.name})", fontsize=9)
            ax.set_xlabel(f"{est} on the target's training images"
                          + (" (source head)" if est in HEAD_ONLY else ""), fontsize=8)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(5))
        axes[r][0].set_ylabel("SVM top-1 on validation (%)" if est not in HEAD_ONLY
                              else "best layer's SVM top-1 (%)", fontsize=8)
    bar = fig.colorbar(ScalarMappable(colours.norm, colours.cmap),
                       ax=axes[: len(ESTIMATORS) - len(HEAD_ONLY)].ravel().tolist(), shrink=0.6)
    bar.set_label("layer (1 = first, counted from the input)", fontsize=8)
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels(),
                                                                strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle("Cheap transferability estimators against measured transfer (Fashion-MNIST "
                 "factors grid): one point per source and layer\n(grey lines join a source's "
                 "layers, black: split 0's baseA); LEEP and NCE score the source head against "
                 "each source's best layer", fontsize=10)
    return fig


# --- costs ------------------------------------------------------------------------------------
def _time(seconds: float) -> str:
    if seconds < 1:
        return f"{1000 * seconds:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def costs(m: Measurements, command: tuple[float, float] | None) -> list[dict[str, str]]:
    """What each estimator cost on all images (no bootstrap; CPU time of one thread), beside the
    SVM and AnB it would replace; `command`: the whole command's (wall, CPU) seconds."""
    out = []
    for est in ESTIMATORS:
        times = [f.seconds[est] for f in m.layers if est in f.seconds]
        if times:
            out.append({"what": f"{est} (CPU, one thread)", "runs": str(len(times)),
                        "total": _time(sum(times)),
                        "each (mean, max)": f"{_time(mean(times))}, {_time(max(times))}"})
    svm = [f.svm_seconds for f in m.layers if f.svm is not None]
    if svm:
        out.append({"what": "linear SVM, one fit with the grid's C and its predictions (CPU, "
                            "one thread)",
                    "runs": str(len(svm)), "total": _time(sum(svm)),
                    "each (mean, max)": f"{_time(mean(svm))}, {_time(max(svm))}"})
        out.append({"what": f"linear SVM with the grid's choice of C ({SVM_FITS} fits: "
                            f"{FOLDS}-fold CV over {len(C_GRID)} values, then the final; "
                            "estimated as that many of the one fit)",
                    "runs": str(len(svm)), "total": f"about {_time(SVM_FITS * sum(svm))}",
                    "each (mean, max)": f"about {_time(SVM_FITS * mean(svm))}"})
    if m.anb_training:
        sec = [s for s, _ in m.anb_training.values()]
        its = sorted({i for _, i in m.anb_training.values()})
        out.append({"what": f"AnB training (split 0, {', '.join(map(str, its))} iterations; "
                            "wall time from its log's time stamps)",
                    "runs": str(len(sec)), "total": _time(sum(sec)),
                    "each (mean, max)": f"{_time(mean(sec))}, {_time(max(sec))}"})
    if command is not None:
        wall, cpu = command
        out.append({"what": f"the whole command to its outputs: every estimator and SVM "
                            f"refit, each on all images and {m.bootstrap} bootstrap replicates "
                            "(wall time; CPU time of all its processes)",
                    "runs": "1", "total": f"{_time(wall)} (CPU {_time(cpu)})",
                    "each (mean, max)": ""})
    return out


# --- findings.md ------------------------------------------------------------------------------
def _finding_sections(found: Sequence[EstimatorFinding]) -> list[str]:
    """One table per claim, under its quantity and criterion (claim 1's noise in its rows)."""
    lines = []
    for number in dict.fromkeys(f.number for f in found):
        group = [f for f in found if f.number == number]
        first = group[0]
        criterion = first.criterion() if number != 1 else (
            "reproduced if q = 0 (the top layer is the measured best for every source); within "
            "noise if q <= 2 x noise; not reproduced beyond")
        lines += ["", f"### {number}. {first.claim}", "", f"q = {first.quantity}; {criterion}.",
                  ""]
        rows = []
        for f in group:
            row = {"estimator": f.estimator, "measured": f.measured or "-", "target": f.target,
                   "q": f.shown()}
            if number == 1:
                row["2 x noise"] = "-" if f.noise is None else f"{200 * f.noise:.2f}"
            rows.append(row | {"verdict": f.verdict, "numbers": f.numbers})
        lines += markdown_table(rows)
    return lines


def _layer_taus(correlations: Sequence[dict]) -> list[dict[str, str]]:
    """Per estimator, measured and target: the mean of tau and rho across layers over sources."""
    keys = dict.fromkeys((r["estimator"], r["measured"], r["target"]) for r in correlations
                         if r["scope"] == "layers")
    out = []
    for est, which, target in keys:
        found = [r for r in correlations if r["scope"] == "layers"
                 and (r["estimator"], r["measured"], r["target"]) == (est, which, target)]
        out.append({"estimator": est, "measured": which, "target": target,
                    "sources": str(len(found)),
                    "mean tau": f"{np.nanmean([r['tau'] for r in found]):+.3f}",
                    "mean rho": f"{np.nanmean([r['rho'] for r in found]):+.3f}"})
    return out


def _differences(m: Measurements) -> str:
    count, largest = m.svm_differences
    if not count:
        return "every one equal"
    return (f"{count} differ, by up to {100 * largest:.2f} points, the features having been "
            "extracted again since the grid ran (the last float32 bit flips a borderline "
            "image); the table and verdicts use the refits")


def findings_markdown(m: Measurements, correlations: Sequence[dict],
                      found: Sequence[EstimatorFinding], cost: Sequence[Mapping[str, str]],
                      where: Mapping[str, str], command: str) -> str:
    sizes = "; ".join(f"{t}: {a} training, {b} validation images"
                      for t, (a, b) in m.n_images.items())
    lines = [
        "# Cheap transferability estimators against the factors grid and the frozen transfer",
        "",
        f"{len(m.sources)} source nets x {len(m.n_images)} targets, {len(m.layers)} layers "
        f"scored; commit {where['commit']}, {where['date']}, {where['machine']}.",
        f"Made by `{command}`.",
        "",
        f"- images: {sizes}. The estimators see the training images and their labels only, as "
        "the grid's SVM did when it chose C; the measured accuracies are on the validation "
        "images.",
        f"- estimators: LogME and H-score (H-score's covariance regularised by "
        f"{estimators.H_SCORE_SHRINK:g} x its mean variance on the diagonal) of every layer's "
        "activations as the grid extracted them (after the ReLU, convolutional maps max-pooled "
        "to 3x3); LEEP and NCE of the source head's softmax (NCE's source label: the head's "
        "most probable class, as the target images carry no label of the source's task).",
        f"- bootstrap: {m.bootstrap} replicates of each target's training images (every "
        "estimator recomputed) and of its validation images (the accuracies), one draw per "
        "target shared by its sources and layers; 95% percentile intervals.",
        "- measured: the grid's linear SVM on the layer (refitted with the C the grid chose, "
        f"its accuracy checked against grid.csv: {_differences(m)}) and, for split 0's baseA on "
        "the near target, the study's frozen transfer AnB (its net's fc8 on half0B's validation "
        "images, checked against its log)"
        + ("" if m.anb else " (no finished AnB in RUNS: no AnB rows)") + ".",
        "",
    ]
    lines += markdown_paragraphs(estimator_findings.__doc__ or "")
    lines += ["## Verdicts"] + _finding_sections(found)
    lines += ["", "## Rank correlations across layers", "",
              "The mean over sources (correlations.csv has each, with its interval, and those "
              "across sources and targets):", ""]
    lines += markdown_table(_layer_taus(correlations))
    lines += ["", "## Cost", "",
              "The time of each estimator on all of a layer's training images (no bootstrap), "
              "beside the training it would replace; feature extraction, which both need, is not "
              "counted. CPU time of one thread (numpy and liblinear run single-threaded here) is "
              "what an idle core would take, whatever else shares the machine.", ""]
    lines += markdown_table(cost)
    return "\n".join(lines) + "\n"


def publish(m: Measurements, out: Path, command: str, seconds: tuple[float, float] | None
            ) -> tuple[list[EstimatorFinding], list[dict], list[Path]]:
    """The findings, and estimators.csv, correlations.csv, estimators.png/.pdf and findings.md
    written into `out`, each whole or not at all."""
    correlations = estimator_findings.correlations(m)
    found = estimator_findings.estimator_findings(m, correlations)
    cost = costs(m, seconds)
    written = [write_csv(out / "estimators.csv", table_rows(m), COLUMNS, FLOATS),
               write_csv(out / "correlations.csv",
                         [{k: v for k, v in r.items() if k in CORRELATION_COLUMNS}
                          for r in correlations], CORRELATION_COLUMNS, FLOATS)]
    written += save(figure(m), out, "estimators")
    md = findings_markdown(m, correlations, found, cost, provenance(), command)
    written.append(write_text(out / "findings.md", md))
    return found, cost, written

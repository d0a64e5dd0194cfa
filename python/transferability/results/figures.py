"""The paper's Figures 2 and 3 and the reduced-data curve, from plan key -> top-1 accuracy.

Figures are drawn with matplotlib's object API (the Agg canvas, no pyplot state) and written as PNG
and PDF. A series without data (no run, or none published) is marked "no data" in the legend and
title, not drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from transferability import plan
from transferability.disk import replacing
from transferability.errors import UserError
from transferability.plan.datasets import known
from transferability.results import estimate, paper, tables, treatments
from transferability.results.estimate import Estimate

STYLE = {  # the paper's look: white base circles, blue selffers, red transfers; light = fine-tuned
    "baseB": {"marker": "o", "color": "white"},
    "BnB": {"marker": "o", "color": "#1b3f8f"},
    "BnB+": {"marker": "o", "color": "#8cb8ea"},
    "AnB": {"marker": "D", "color": "#a01818"},
    "AnB+": {"marker": "D", "color": "#f2a0a0"},
}
OFFSET = {"baseB": 0.0, "BnB": -0.15, "BnB+": -0.05, "AnB": 0.05, "AnB+": 0.15}
LINE_LABEL = {  # the treatments by name; what they show is judged in findings.py, not here
    "BnB": "BnB: selffer, frozen (mean)",
    "BnB+": "BnB+: selffer, fine-tuned (mean)",
    "AnB": "AnB: transfer, frozen (mean)",
    "AnB+": "AnB+: transfer, fine-tuned (mean)",
}
X_LABEL = "Layer n at which network is chopped and retrained"
Y_LABEL = "Top-1 accuracy (higher is better)"


@dataclass(frozen=True)
class Source:
    """Accuracies to draw and how to name them."""

    name: str        # file-name prefix: the dataset, or "paper"
    dataset: str     # whose networks: imagenet, fashion-mnist or a user's own images
    title: str
    acc: Mapping[str, float]
    pool_halves: bool  # Figure 2: nets of both target halves, or of half B only
    unfinished: frozenset[str] = field(default_factory=frozenset)
    relative: bool = False  # Figure 2: each net less its own target half's base

    @property
    def y_label(self) -> str:
        return RELATIVE_LABEL if self.relative else Y_LABEL


RELATIVE_LABEL = "Top-1 accuracy less the target half's base net"


def _notes(src: Source, keys: set[str], missing: list[str]) -> str:
    notes = []
    if missing:
        notes.append("no data: " + ", ".join(missing))
    late = len(keys & src.unfinished)
    if late:
        notes.append(f"{late} unfinished run{'s' if late > 1 else ''} (the tests so far shown)")
    return "; ".join(notes)


def _title(fig: Figure, head: str, src: Source, keys: set[str], missing: list[str],
           classes: str = "") -> None:
    note = _notes(src, keys, missing)
    fig.suptitle(f"{head}\n{src.title}" + (f"\n{note}" if note else "")
                 + (f"\n{classes}" if classes else ""), fontsize=10)


def plain(text: str) -> str:
    """Text matplotlib draws as it is: a '$' would start its mathtext."""
    return text.replace("$", r"\$")


def halves_line(dataset: str, groups: tuple[str, ...], most: int = 90) -> str:
    """A user's class folders in half A and half B of the one split drawn, as they are named
    (shortened past `most` characters a half); empty for a built-in dataset or pooled splits."""
    record = known().get(dataset)
    if record is None or record.images is None or len(groups) != 1:
        return ""
    parts = []
    for half in plan.HALVES:
        names = record.images.names_of(plan.base_net(groups[0], half).train_set)
        shown = list(names)
        while len(shown) > 1 and len(", ".join(shown)) > most:
            shown.pop()
        rest = len(names) - len(shown)
        parts.append(f"{half}: {', '.join(shown)}" + (f" (+{rest} more)" if rest else ""))
    return plain("; ".join(parts))


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.6, "no data", ha="center", va="center", transform=ax.transAxes, color="gray")


def _split_axes(ax: Axes) -> None:
    ax.set_xticks(range(plan.LAYERS + 1))
    ax.set_xlim(-0.5, plan.LAYERS + 0.5)
    ax.grid(alpha=0.3)


def figure2(src: Source, groups: tuple[str, ...], label: str) -> Figure:
    """Every net as a point (top) and the treatments' means over the replicates as lines with
    their 95% intervals (bottom; results/estimate.py)."""
    reps = treatments.units(src.acc, groups, plan.HALVES if src.pool_halves else ("B",))
    noise = estimate.noise(src.acc)
    fig = Figure(figsize=(8, 9), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1.3, 1))
    values = {name: treatments.points(src.acc, reps, name, src.relative)
              for name in treatments.TREATMENTS}
    missing = [name for name in treatments.TREATMENTS if not values[name]]
    for name in treatments.TREATMENTS:
        xs = [n + OFFSET[name] for n, vs in values[name].items() for _ in vs]
        ys = [v for vs in values[name].values() for v in vs]
        top.scatter(xs, ys, s=36, edgecolors="black", linewidths=0.6, zorder=3,
                    label=name + (" (no data)" if name in missing else ""), **STYLE[name])
    mean_lines(bottom, {name: treatments.treatment_means(src.acc, reps, name, noise,
                                                          src.relative)
                         for name in treatments.TREATMENTS})
    keys = {u.key(name, n) for u in reps for name in treatments.TREATMENTS[1:]
            for n in treatments.ALL if u.key(name, n) in src.acc}
    keys |= {k for u in reps for k in u.base_keys}
    for ax in (top, bottom):
        _split_axes(ax)
        ax.set_ylabel(src.y_label)
        if not keys:
            _no_data(ax)
    top.legend(loc="best", fontsize=8)
    bottom.set_xlabel(X_LABEL)
    _title(fig, f"Figure 2: transfer between halves, {label}", src, keys, missing,
           halves_line(src.dataset, groups))
    return fig


def mean_lines(ax: Axes, means: Mapping[str, Mapping[int, Estimate]]) -> None:
    """Each treatment's means from n = 0 (the base) on, with their intervals as error bars."""
    base = means["baseB"].get(0)
    if base is not None:
        ax.axhline(base.mean, color="gray", linestyle=":", linewidth=1)
        ax.errorbar([0], [base.mean], yerr=_yerr([base]), fmt="o", markersize=8,
                    markerfacecolor="white", markeredgecolor="black", ecolor="gray", capsize=3,
                    zorder=4, label="baseB (mean)")
    for name in ("AnB+", "BnB+", "BnB", "AnB"):
        found = means[name]
        if not found:
            ax.plot([], [], color=STYLE[name]["color"], label=f"{LINE_LABEL[name]} (no data)")
            continue
        xs = [n + OFFSET[name] for n in found]
        ax.errorbar(xs, [e.mean for e in found.values()], yerr=_yerr(list(found.values())),
                    color=STYLE[name]["color"], marker=STYLE[name]["marker"],
                    markeredgecolor="black", markeredgewidth=0.6, linewidth=2, capsize=3,
                    label=LINE_LABEL[name])
        if base is not None:
            ax.plot([0, xs[0]], [base.mean, found[min(found)].mean],
                    color=STYLE[name]["color"], linewidth=2)
    ax.plot([], [], color="black", marker="|", linestyle="none",
            label="error bars: 95% intervals (one replicate: from the seed noise)")
    ax.legend(loc="best", fontsize=8)


def _yerr(found: list[Estimate]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars; none where an estimate has no interval."""
    return [[0.0 if e.low is None else e.mean - e.low for e in found],
            [0.0 if e.high is None else e.high - e.mean for e in found]]


def _natman_names(dataset: str | None) -> tuple[str, str] | None:
    record = known().get(dataset or "")
    return record.natman_names if record else None


def _natman_series(src: Source) -> dict[str, dict[int, float]]:
    """'natural -> man-made' style label -> {n: accuracy}, n = 0 the target's base net."""
    names = _natman_names(src.dataset) or ("natman A", "natman B")
    half = dict(zip(plan.HALVES, names, strict=True))
    out = {}
    for source, target in (("B", "A"), ("A", "B")):
        keys = {0: f"natman/base{target}"}
        keys |= {n: f"natman/{source}{n}{target}" for n in range(1, plan.LAYERS + 1)}
        out[f"{half[source]} \u2192 {half[target]}"] = {
            n: src.acc[k] for n, k in keys.items() if k in src.acc}
    return out


def _random_series(src: Source) -> dict[int, float]:
    keys = {0: "whole/base"} | {n: f"whole/random{n}" for n in range(1, plan.LAYERS + 1)}
    return {n: src.acc[k] for n, k in keys.items() if k in src.acc}


def _plot_curve(ax: Axes, curve: Mapping[int, float], label: str, **style) -> None:
    if curve:
        ax.plot(list(curve), list(curve.values()), label=label, linewidth=1.8,
                markeredgecolor="black", markeredgewidth=0.5, **style)
    else:
        ax.plot([], [], label=f"{label} (no data)", **style)


def _relative(curve: Mapping[int, float]) -> dict[int, float]:
    """The curve less its n = 0 value; empty without one."""
    return {n: v - curve[0] for n, v in curve.items()} if 0 in curve else {}


def figure3(src: Source) -> Figure:
    """Natural/man-made transfer, random frozen layers, and both against random-split transfer."""
    fig = Figure(figsize=(11, 9), layout="constrained")
    axes = fig.subplot_mosaic([["natman", "random"], ["relative", "relative"]])
    natman_ax, random_ax, rel_ax = axes["natman"], axes["random"], axes["relative"]
    natman, random = _natman_series(src), _random_series(src)
    colors = ("#2e7d32", "#ef6c00")
    for (label, curve), color in zip(natman.items(), colors, strict=True):
        _plot_curve(natman_ax, curve, label, color=color, marker="o")
        _plot_curve(rel_ax, _relative(curve), label, color=color, marker="o", linestyle="--")
    _plot_curve(random_ax, random, "random frozen layers", color="#6a1b9a", marker="s")
    _plot_curve(rel_ax, _relative(random), "random frozen layers", color="#6a1b9a", marker="s")
    reps = treatments.units(src.acc, treatments.RANDOM_GROUPS)
    means = treatments.treatment_means(src.acc, reps, "AnB", None, True)
    anb = {0: 0.0} | {n: e.mean for n, e in means.items()} if means else {}
    _plot_curve(rel_ax, anb, "AnB less its base, random splits (mean)", **STYLE["AnB"])
    rel_ax.axhline(0, color="gray", linestyle=":", linewidth=1, label="reference (base net)")
    names = _natman_names(src.dataset)
    halves = " and ".join(names) if names else "the natman split's"
    natman_ax.set_title(f"transfer between {halves} halves (frozen)", fontsize=9)
    random_ax.set_title("first n layers random and frozen, all classes", fontsize=9)
    rel_ax.set_title("relative to each one's base net (n = 0)", fontsize=9)
    rel_ax.set_ylabel("Relative top-1 accuracy (higher is better)")
    for ax in (natman_ax, random_ax, rel_ax):
        _split_axes(ax)
        ax.legend(loc="best", fontsize=8)
        ax.set_xlabel(X_LABEL)
    natman_ax.set_ylabel(Y_LABEL)
    empty = (not any(natman.values()), not random, not (random or anb or any(natman.values())))
    for ax, none in zip((natman_ax, random_ax, rel_ax), empty, strict=True):
        if none:
            _no_data(ax)
    keys = _figure3_keys(src) | ({u.key("AnB", n) for u in reps for n in means} if anb else set())
    missing = [label for label, curve in natman.items() if not curve]
    missing += [] if random else ["random frozen layers"]
    missing += [] if anb else ["random-split AnB"]
    _title(fig, "Figure 3: dissimilar tasks and random features", src, keys, missing)
    return fig


def _figure3_keys(src: Source) -> set[str]:
    return {k for k in src.acc if k.startswith(("natman/", "whole/"))}


def reduced(src: Source) -> Figure:
    """Top-1 accuracy against training images per class (log scale)."""
    keys = {k: f"reduced/{plan.reduced_name(k)}" for k in plan.REDUCED_PER_CLASS}
    curve = {k: src.acc[key] for k, key in keys.items() if key in src.acc}
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    _plot_curve(ax, curve, "reduced training set", color="#00695c", marker="o")
    if "whole/base" in src.acc:
        ax.axhline(src.acc["whole/base"], color="gray", linestyle=":",
                   label="whole training set (whole/base)")
    ax.set_xscale("log")
    ax.set_xlim(0.7, 2000)  # fixed: a log axis with no points (only the whole-set line) has none
    ax.set_xticks([1, 10, 100, 1000])
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("Training images per class")
    ax.set_ylabel(Y_LABEL)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=8)
    if not curve:
        _no_data(ax)
    count = f"{len(curve)} of {len(plan.REDUCED_PER_CLASS)} reduced nets"
    used = {keys[k] for k in curve}
    _title(fig, f"Reduced training data: the first N images of each class ({count})", src, used, [])
    return fig


# --- the figure files: from run folders or the published numbers, as PNG and PDF -----------
FIGURES = ("2", "3", "reduced")


def pooling(dataset: str, halves: str | None) -> bool:
    """`--halves both` pools A and B, `--halves B` keeps target B only. By default ImageNet's
    equally hard random halves pool, as the paper's figure does (at every resolution); another
    dataset's halves, of unequal difficulty, do not in a figure of accuracies (the report draws
    each net less its own base, where they pool)."""
    if halves is not None:
        return halves == "both"
    record = known().get(dataset)
    return record is not None and "imagenet" in (record.name, record.full_size)


def run_sources(runs_dir: Path, dataset: str | None, halves: str | None) -> list[Source]:
    """One Source per dataset that has run folders (or just `dataset`)."""
    runs, _ = tables.scan(runs_dir, dataset)
    datasets = [d for d in known() if any(r.dataset == d for r in runs)]
    if not datasets:
        raise UserError(f"no run folders under {runs_dir}"
                        + (f" for dataset {dataset}" if dataset else ""))
    sources = []
    for ds in datasets:
        acc, unfinished = tables.accuracies(runs, ds)
        sources.append(Source(ds, ds, f"{ds}: {len(acc)} networks", acc, pooling(ds, halves),
                              frozenset(unfinished)))
    return sources


def paper_source(halves: str | None) -> Source:
    title = "Yosinski et al. 2014: the authors' published final accuracies"
    return Source("paper", "imagenet", title, paper.accuracies(), pooling("imagenet", halves))


def save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    with replacing(png) as tmp:  # each file whole or not at all
        fig.savefig(tmp, dpi=150, format="png")
    with replacing(pdf) as tmp:
        fig.savefig(tmp, metadata={"CreationDate": None}, format="pdf")
    return [png, pdf]


def _figure2_label(split: str | None, pool: bool) -> tuple[tuple[str, ...], str]:
    halves = "halves A and B pooled" if pool else "target half B"
    if split is None:
        return treatments.RANDOM_GROUPS, f"random splits 0-3 ({halves})"
    group = plan.group_of_split(split)
    name = "natural/man-made split" if group == "natman" else f"split {split}"
    return (group,), f"{name} ({halves})"


def write_figures(src: Source, out_dir: Path, which: Iterable[str],
                  split: str | None = None) -> list[Path]:
    """Draw the chosen FIGURES for one source; return the files written."""
    written: list[Path] = []
    for name in which:
        if name == "2":
            groups, label = _figure2_label(split, src.pool_halves)
            suffix = "" if split is None else f"_split{split}"
            written += save(figure2(src, groups, label), out_dir, f"{src.name}_figure2{suffix}")
        elif name == "3":
            written += save(figure3(src), out_dir, f"{src.name}_figure3")
        else:
            written += save(reduced(src), out_dir, f"{src.name}_reduced")
    return written

"""The factors study's outputs: the CSV table, the printed table and the figure (PNG and PDF)."""

from __future__ import annotations

from matplotlib.figure import Figure

from transferability.factors.svm import FOLDS
from transferability.nets.caffenet import LEARNABLE
from transferability.results.figures import STYLE

SVM_COLOURS = ("#1b7837", "#1f78b4", "#e08214", "#762a83")
GROUP_TITLES = {"natman": "natural/man-made split"}


FLOATS = ".6g"  # the studies' tables: six significant digits


def _groups(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["group"] for row in rows))


def _methods(rows: list[dict], group: str) -> list[str]:
    found = dict.fromkeys(r["method"] for r in rows if r["group"] == group and r["layer"])
    return [m for m in found if m != "AnB"] + (["AnB"] if "AnB" in found else [])


def _acc(rows: list[dict], group: str, method: str, layer: str = "") -> float | None:
    for r in rows:
        if r["group"] == group and r["method"] == method and r["layer"] == layer:
            return float(r["top1_accuracy"])
    return None


def table(rows: list[dict]) -> str:
    """Top-1 accuracy by layer: one block per group, one column per method."""
    lines = []
    for group in _groups(rows):
        methods = _methods(rows, group)
        target = next(r["target"] for r in rows if r["group"] == group)
        lines.append(f"{group}: baseA's layers as features for {target}")
        lines.append(f"  {'layer':6}" + "".join(f"{m:>18}" for m in methods))
        for layer in LEARNABLE:
            accs = [_acc(rows, group, m, layer) for m in methods]
            if any(a is not None for a in accs):
                lines.append(f"  {layer:6}" + "".join(
                    f"{'-' if a is None else f'{a:.4f}':>18}" for a in accs))
        base = _acc(rows, group, "baseB")
        if base is not None:
            lines.append(f"  baseB (all layers trained on {target}): {base:.4f}")
    return "\n".join(lines)


def _panel(ax, rows: list[dict], group: str) -> None:
    xs = range(1, len(LEARNABLE) + 1)
    for i, method in enumerate(m for m in _methods(rows, group) if m != "AnB"):
        ys = [_acc(rows, group, method, layer) for layer in LEARNABLE]
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        ax.plot(*zip(*pts, strict=True), marker="o", color=SVM_COLOURS[i % len(SVM_COLOURS)],
                label=f"linear SVM on baseA's layer ({method.removeprefix('svm ')})")
    anb = [(x, _acc(rows, group, "AnB", layer)) for x, layer in zip(xs, LEARNABLE, strict=True)]
    anb = [(x, y) for x, y in anb if y is not None]
    if anb:
        ax.plot(*zip(*anb, strict=True), marker=STYLE["AnB"]["marker"], ls="--",
                color=STYLE["AnB"]["color"], label="AnB: layers 1..n frozen, above trained on B")
    base = _acc(rows, group, "baseB")
    if base is not None:
        ax.axhline(base, color="grey", ls=":", label="baseB: all layers trained on B")
    target = next(r["target"] for r in rows if r["group"] == group)
    name = GROUP_TITLES.get(group, group.replace("split", "split "))
    sizes = next((f"\nSVM on {r['n_train']} training, {r['n_test']} validation images" for r in rows
                  if r["group"] == group and r["method"].startswith("svm")), "")
    ax.set_title(f"{name}: baseA -> {target}{sizes}", fontsize=9)
    ax.set_xticks(list(xs), LEARNABLE)
    ax.set_xlim(0.6, len(LEARNABLE) + 0.4)
    ax.set_xlabel("layer n of baseA (features / last frozen layer)")
    ax.grid(alpha=0.3)


def _svm_note(rows: list[dict]) -> str:
    pools = {r["pool"] for r in rows if r["method"].startswith("svm") and r["pool"]}
    pooled = f";\nconv maps max-pooled to {pools.pop()}" if len(pools) == 1 else ""
    return (f"SVM one-vs-rest on half B's training images, C by {FOLDS}-fold CV, scored on its "
            f"validation images{pooled}")


def figure(rows: list[dict], dataset: str) -> Figure:
    groups = _groups(rows)
    # one panel still needs the width of the two-line title and the two-column legend
    fig = Figure(figsize=(max(8.5, 5.5 * len(groups)), 5.5), layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for ax, group in zip(axes, groups, strict=True):
        _panel(ax, rows, group)
    axes[0].set_ylabel("top-1 accuracy on half B's validation set")
    handles = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels(),
                                                          strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(f"{dataset}: off-the-shelf features (Azizpour et al.) vs frozen transfer AnB "
                 f"(Yosinski et al.)\n{_svm_note(rows)}", fontsize=10)
    return fig

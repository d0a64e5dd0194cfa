"""The factors grid's outputs: the figure (accuracy against layer, one line per source, one panel
per target and reduction) and the findings file with its verdicts and the best-layer table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from transferability import plan
from transferability.disk import write_csv, write_text
from transferability.factors import grid_findings
from transferability.factors.grid import COLUMNS, TARGETS, Settings
from transferability.factors.grid_findings import PCA, RAW, Grid, GridFinding, best_table
from transferability.factors.report import FLOATS
from transferability.factors.svm import C_GRID, FOLDS
from transferability.nets.generate import solver_param
from transferability.results.compare import markdown_table
from transferability.results.figures import save
from transferability.results.report import provenance

WIDTH_COLOURS = ("#e08214", "#2166ac", "#762a83")
DEPTH_STYLES = (":", "-", "--")


def _panel(ax, g: Grid, target: str, method: str, trained: dict) -> None:
    for i, width in enumerate(g.widths):
        for j, depth in enumerate(g.depths):
            found = g.layers(width, depth, target, method)
            if found:
                xs = sorted(found)
                ax.plot(xs, [100 * found[x] for x in xs], DEPTH_STYLES[j % 3], marker=".", ms=4,
                        color=WIDTH_COLOURS[i % 3], label=f"source x{width:g}, depth {depth}")
    width, depth = g.standard()
    again = g.layers(width, depth, target, method, 1)
    if again:
        xs = sorted(again)
        ax.plot(xs, [100 * again[x] for x in xs], "-", color="grey", lw=0.8,
                label=f"x{width:g}, depth {depth}, second seed")
    for name, style, how in (("AnB", "s--", "frozen"), ("AnB+", "s-", "fine-tuned")):
        pts = sorted((n, a) for (m, n), a in trained.items() if m == name)
        if pts and target == "near" and method == RAW:
            ax.plot([n for n, _ in pts], [100 * a for _, a in pts], style, color="#b2182b",
                    ms=4, mfc="white" if name == "AnB" else "#b2182b",
                    label=f"{name} (split 0: baseA's layers 1..n {how}, the rest trained)")
    about = next(t for t in TARGETS if t.distance == target)
    ax.set_title(f"{target}: {about.name}, {method.removeprefix('svm ')}", fontsize=9)
    ax.set_xticks(range(1, max(g.depths, default=8) + 1))
    ax.grid(alpha=0.3)


def figure(rows: Sequence[dict]) -> Figure:
    g = Grid(rows)
    methods = [m for m in (RAW, PCA) if any(k[4] == m for k in g.acc)]
    fig = Figure(figsize=(4.2 * len(g.targets), 3.4 * len(methods) + 1.2), layout="constrained")
    axes = fig.subplots(len(methods), len(g.targets), squeeze=False)
    for r, method in enumerate(methods):
        for c, target in enumerate(g.targets):
            _panel(axes[r][c], g, target, method, g.trained)
        axes[r][0].set_ylabel("top-1 on the target's validation (%)")
    for ax in axes[-1]:
        ax.set_xlabel("layer of the source, counted from the input\n(its last three are "
                      "fully connected)")
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels(),
                                                                strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle("Factors of transferability (Azizpour et al. 2014) on Fashion-MNIST: sources "
                 "trained on split 0's half A, frozen; a linear SVM on one layer\n"
                 f"(C by {FOLDS}-fold CV on the target's training images), targets near to far",
                 fontsize=10)
    return fig



def _finding_rows(found: Sequence[GridFinding]) -> list[dict[str, str]]:
    return [{"#": f.number, "claim": f.claim, "target": f.target, "q": f.quantity,
             "ours": f.shown(),
             "criterion": f.criterion(), "verdict": f.verdict, "numbers": f.numbers}
            for f in found]


def _noise_seed() -> int:
    """The solver seed of the grid's second CaffeNet (the last of plan.factor_sources)."""
    return solver_param(plan.FACTOR_DATASET, plan.factor_sources()[-1]).random_seed


def _c_values() -> str:
    return ", ".join(f"{c:g}" for c in C_GRID)


def _trained_line(rows: Sequence[dict]) -> str:
    """What the near target's trained nets (baseB, AnB, AnB+) saw, beside the SVM's images."""
    trained = [r for r in rows if not str(r["method"]).startswith("svm")]
    if not trained:
        return "- trained alternatives: none finished in RUNS (the figure has no AnB, AnB+)"
    sizes = sorted({r["n_train"] for r in trained if r.get("n_train") not in (None, "")})
    seen = f"{', '.join(map(str, sizes))}" if sizes else "all"
    return (f"- trained alternatives (near target only, finished runs only): baseB and the "
            f"study's A{{n}}B, A{{n}}B+ of split 0 ({len(trained)} nets), each trained on {seen} "
            "of half B's training images, where the SVMs saw the number above")


def grid_findings_markdown(rows: Sequence[dict], found: Sequence[GridFinding], s: Settings,
                      where: Mapping[str, str], command: str) -> str:
    sources = sorted({r["source"] for r in rows if str(r["method"]).startswith("svm")})
    lines = [
        "# Factors of transferability (Azizpour et al. 2014) on Fashion-MNIST: the grid's "
        "findings",
        "",
        f"{len(sources)} source nets x {len({r['target'] for r in rows})} targets; commit "
        f"{where['commit']}, {where['date']}, {where['machine']}.",
        f"Made by `{command}`.",
        "",
        "- sources: the scaled CaffeNet's profile (python/transferability/nets/caffenet.py) at "
        "widths x0.5, x1, x2 (conv and hidden fc units) and depths 7, 8, 9 learnable layers "
        "(CaffeNet's conv4 left out, or a second conv4 added), trained on split 0's half A with "
        "the Fashion-MNIST schedule (solver.py); x1 with depth 8 is split0/baseA itself, and "
        f"again with solver seed {_noise_seed()} for the noise",
        "- targets: " + "; ".join(f"{t.distance}: {t.about}" for t in TARGETS),
        f"- features: each layer's activations after its ReLU, convolutional maps max-pooled to "
        f"{s.pool}x{s.pool}; {s.max_train or 'all'} training images of the target (spread over "
        f"the set), its whole validation set",
        f"- classifier: one-vs-rest linear SVM, C from {_c_values()} by {FOLDS}-fold "
        f"cross-validation on the training images only; raw features, and PCA to {s.pca} "
        "dimensions then L2 normalisation (PCA fitted on training features only)",
        _trained_line(rows),
        "",
        (grid_findings.__doc__ or "").strip().replace("\n", " "),
        "",
    ]
    lines += markdown_table(_finding_rows(found)) + ["", "Best layer and best width per target "
                                                "(raw features):", ""]
    lines += markdown_table(best_table(rows))
    return "\n".join(lines) + "\n"


def publish(rows: Sequence[dict], settings: Settings, out: Path, command: str,
            with_table: bool = True) -> tuple[list[GridFinding], list[Path]]:
    """The grid's findings, and its table (grid.csv), figure and findings.md written into `out`,
    each whole or not at all."""
    found = grid_findings.grid_findings(rows)
    written = [write_csv(out / "grid.csv", rows, COLUMNS, FLOATS)] if with_table else []
    written += save(figure(rows), out, "grid")
    md = grid_findings_markdown(rows, found, settings, provenance(), command)
    written.append(write_text(out / "findings.md", md))
    return found, written

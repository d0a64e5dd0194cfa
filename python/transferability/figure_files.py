"""Draw the figures from run folders or from the paper's published numbers, as PNG and PDF."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

from transferability import paper, plan, results, series
from transferability.errors import UserError
from transferability.figures import Source, figure2, figure3, reduced

FIGURES = ("2", "3", "reduced")


def pooling(dataset: str, halves: str | None) -> bool:
    """`--halves both` pools A and B, `--halves B` keeps target B only; default by dataset."""
    return series.default_pooling(dataset) if halves is None else halves == "both"


def run_sources(runs_dir: Path, dataset: str | None, halves: str | None) -> list[Source]:
    """One Source per dataset that has run folders (or just `dataset`)."""
    runs, _ = results.scan(runs_dir, dataset)
    datasets = [d for d in plan.DATASETS if any(r.dataset == d for r in runs)]
    if not datasets:
        raise UserError(f"no run folders under {runs_dir}"
                        + (f" for dataset {dataset}" if dataset else ""))
    sources = []
    for ds in datasets:
        acc, unfinished = results.accuracies(runs, ds)
        sources.append(Source(ds, ds, f"{ds} runs in {runs_dir}", acc, pooling(ds, halves),
                              frozenset(unfinished)))
    return sources


def paper_source(halves: str | None) -> Source:
    title = "Yosinski et al. 2014: the authors' published final accuracies"
    return Source("paper", "imagenet", title, paper.accuracies(), pooling("imagenet", halves))


def save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png, dpi=150)
    fig.savefig(pdf, metadata={"CreationDate": None})
    return [png, pdf]


def _figure2_label(split: str | None, pool: bool) -> tuple[tuple[str, ...], str]:
    halves = "halves A and B pooled" if pool else "target half B"
    if split is None:
        return series.RANDOM_GROUPS, f"random splits 0-3 ({halves})"
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

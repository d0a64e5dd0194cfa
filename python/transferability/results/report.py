"""One self-contained HTML page of a dataset's results: figures embedded, no network needed.

It holds what the runs under RUNS measured and nothing else: the settings that made them, the
paper's findings and controls with the verdicts of findings.py, the figures, the derived
quantities with their intervals, and every net beside the paper's. Its provenance is the commit,
the date and the machine's kind; no path of the machine that made it.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from matplotlib.figure import Figure

from transferability import plan
from transferability.caffe_env import REPO_ROOT
from transferability.disk import replacing, write_csv, write_text
from transferability.nets import caffenet, solver
from transferability.plan.datasets import IMAGENET, Images
from transferability.results import compare, findings, paper, tables, treatments
from transferability.results.figures import Source, figure2, figure3, reduced

CSS = """body{font-family:sans-serif;max-width:80em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}
td,th{border:1px solid #bbb;padding:.2em .5em;text-align:right}
td.t,th.t{text-align:left}
td{white-space:nowrap}td.t{white-space:normal}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.reproduced,.met{background:#dcf5dc}.not-reproduced,.not-met{background:#f8d8d8}
.within-noise{background:#f5f0d0}.no-data{color:#888}"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(rows: Sequence[Mapping[str, compare.Cell]], shown: compare.Shown,
           row_class: str | None = None) -> str:
    """An HTML table of a shown table: text cells left-aligned, numbers right-aligned."""
    head = "".join(f'<th class="t">{html.escape(h)}</th>' for h, _ in shown)
    body = []
    for row, texts in zip(rows, compare.cells(rows, shown), strict=True):
        cls = f' class="{str(row[row_class]).replace(" ", "-")}"' if row_class else ""
        cells = []
        for text in texts:
            left = "" if compare.is_number(text) else ' class="t"'
            cells.append(f"<td{left}>{html.escape(text)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                         timeout=10)
    return out.stdout.strip()


def _commit() -> str:
    """The checkout's commit, `-dirty` when files other than results/ differ from it: a publish
    rewrites results/ itself before it writes the findings that name the commit."""
    try:
        commit = _git("describe", "--always")
        changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                       ":(exclude)results")
    except OSError:
        return "unknown (no git)"
    if not commit:
        return "unknown (not a git checkout)"
    return f"{commit}-dirty" if changed else commit


def provenance() -> dict[str, str]:
    """Where and when: the commit, the date (UTC) and the machine."""
    return {
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu()}, {os.cpu_count()} cores, {platform.platform()}",
    }


def _cpu() -> str:
    """The processor's model name (Linux), else its architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{platform.machine()} {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return platform.machine()


def _crop(profile) -> str:
    where = ", random in training" if profile.crop < profile.image else " (the whole image)"
    return f"crop {profile.crop} of {profile.image}{where}, mirrored in training"


def _fitted(profile: caffenet.Profile) -> str:
    """What a user's own images' profile fitted to them (caffenet.for_images)."""
    conv1 = profile.convs[0]
    pools = ", ".join(f"conv{i}" for i in profile.pool_after) or "none"
    images = profile.data.images
    return (f"; fitted to {profile.image} x {profile.image} x {profile.channels}: conv1 "
            f"{conv1.kernel}x{conv1.kernel} stride {conv1.stride}, pooling after {pools}"
            + ("" if images is None else f", widths x {images.width:g} (WIDTH)"))


def _class_rows(images: Images) -> list[tuple[str, str]]:
    """A user's classes, as their folders are named, and each split's halves of them."""
    rows = [("classes", " | ".join(images.class_names))]
    for group in dict.fromkeys(plan.group_of_split(s) for s in plan.SPLITS):
        halves = [plan.base_net(group, h).train_set for h in plan.HALVES]
        if all(half in dict(images.halves) for half in halves):
            rows.append((f"{group}'s halves", "; ".join(
                f"{h}: {' | '.join(images.names_of(half))}"
                for h, half in zip(plan.HALVES, halves, strict=True))))
    return rows


def settings(dataset: str) -> list[tuple[str, str]]:
    """The profile and schedule the runs were generated with, in epochs beside the paper's; for a
    user's own images first what their data step found and chose."""
    profile = caffenet.profile_of(dataset)
    images = profile.data.images
    standard, _ = solver.schedules(dataset)
    convs = "-".join(str(c.num_output) for c in profile.convs)
    rows = [] if images is None else [*images.statements, *_class_rows(images)]
    rows += [
        ("network", f"CaffeNet layer sequence, conv {convs}, fc {profile.fc[0]}-{profile.fc[1]}-"
                    f"{profile.classes}, {_crop(profile)}"
                    f"{_fitted(profile) if profile.data.profile == caffenet.FITTED else ''}"),
        ("solver", f"SGD momentum {standard.momentum}, base_lr {standard.base_lr}, lr x "
                   f"{standard.gamma} every {standard.stepsize} iterations, {standard.max_iter} "
                   f"iterations, batch {profile.train_batch}"),
    ]
    per_half = profile.data.train_images_per_half
    if per_half:
        step = standard.stepsize * profile.train_batch / per_half
        total = standard.max_iter * profile.train_batch / per_half
        paper_half = IMAGENET.train_images_per_half
        paper_step = solver.PAPER.stepsize * caffenet.CAFFENET.train_batch / paper_half
        paper_total = solver.PAPER.max_iter * caffenet.CAFFENET.train_batch / paper_half
        rows.append(("epochs (of a half's training set)",
                     f"{step:.1f} per lr step, {total:.1f} in all (the paper: {paper_step:.0f} "
                     f"per step, {paper_total:.0f} in all)"
                     + ("" if images is None else f"; EPOCHS = {images.epochs:g}")))
    rows.append(("plotted accuracy", compare.plotted_meaning(dataset)))
    seed = standard.random_seed
    replicates = ", ".join(f"baseB-seed{s} uses {(seed or 0) + s}" for s in plan.NOISE_SEEDS)
    rows.append(("seeds", f"random_seed {seed} for every net; {replicates}"))
    return rows


def _figures(src: Source) -> list[tuple[str, Figure]]:
    """Figure 2 over the random splits and for each split, every net less its own base with
    both halves' nets (so the selffers AnA and BnB alike); Figure 3; the reduced-data curve."""
    rel = replace(src, pool_halves=True, relative=True)
    present = {key.split("/")[0] for key in src.acc}
    out = []
    random_splits = present & set(treatments.RANDOM_GROUPS)
    if len(random_splits) > 1:
        label = f"{len(random_splits)} random splits, each net less its own base"
        out.append((f"Figure 2, {label}", figure2(rel, treatments.RANDOM_GROUPS, label)))
    for group in [plan.group_of_split(s) for s in plan.SPLITS if plan.group_of_split(s) in present]:
        label = (group.replace("split", "split ") if group != "natman" else "natural/man-made")
        label += ", each net less its own base"
        out.append((f"Figure 2, {label}", figure2(rel, (group,), label)))
    if present & {"natman", "whole"}:
        out.append(("Figure 3", figure3(src)))
    if "reduced" in present:
        out.append(("Reduced training data", reduced(src)))
    return out


@dataclass(frozen=True)
class Study:
    """What the runs of one dataset measured, and what follows from it on both metrics."""

    dataset: str
    runs: list[tables.Run]
    acc: dict[str, float]    # the plotted metric, which the judgement uses
    unfinished: set[str]
    analysis: findings.Analysis
    final: findings.Analysis  # the same at the final test

    @property
    def source(self) -> Source:
        return Source(self.dataset, self.dataset, f"{self.dataset}: {len(self.acc)} networks",
                      self.acc, True, frozenset(self.unfinished))


def study(runs_dir: Path, dataset: str) -> Study:
    runs, _ = tables.scan(runs_dir, dataset)
    acc, unfinished = tables.accuracies(runs, dataset, paper.PLOTTED)
    final, _ = tables.accuracies(runs, dataset, paper.FINAL)
    return Study(dataset, runs, acc, unfinished, findings.analyse(acc, paper.PLOTTED),
                 findings.analyse(final, paper.FINAL))


# `make similarity`'s files (factors/similarity_report.py), read back: the report names no module
# of the later factors stage.
SIMILARITY_CLAIMS, SIMILARITY_FIGURE = "claims.csv", "similarity.png"
SIMILARITY_SHOWN: compare.Shown = tuple(
    (name, lambda r, key=key: str(r[key])) for name, key in (
        ("claim", "claim"), ("kernel", "kernel"), ("statement", "statement"), ("q", "q"),
        ("verdict", "verdict"), ("criterion", "criterion"), ("made of", "detail")))


def similarity_section(folder: Path | None, dataset: str) -> list[str]:
    """The CKA claims and figure of `make similarity`, where its folder has this dataset's."""
    claims = Path(folder) / SIMILARITY_CLAIMS if folder else None
    if claims is None or not claims.is_file():
        return []
    with open(claims, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("dataset") == dataset]
    if not rows:
        return []
    parts = ["<h2 id='similarity'>Why transfer falls off: layer similarity (CKA)</h2>",
             f"<p>Linear and RBF CKA of the nets of {html.escape(rows[0]['splits'])} on one set "
             "of half B's validation images, with 95% bootstrap intervals over the images "
             "(<code>make similarity</code>; its findings.md gives the settings).</p>",
             _table(rows, SIMILARITY_SHOWN, row_class="verdict")]
    figure = Path(folder) / SIMILARITY_FIGURE
    if figure.is_file():
        data = base64.b64encode(figure.read_bytes()).decode("ascii")
        parts.append(f"<img alt='CKA by layer' src='data:image/png;base64,{data}'>")
    return parts


def page(st: Study, similarity: Path | None = None) -> str:
    """The report's HTML for one dataset's runs (and the similarity's, from its folder)."""
    where = provenance()
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Transferability: {esc(st.dataset)} results</title><style>{CSS}</style>"
        "</head><body>",
        f"<h1>How transferable are features: {esc(st.dataset)} results</h1>",
        f"<p>{len(st.acc)} networks with a plotted accuracy, {len(st.unfinished)} of them "
        f"unfinished. Commit {esc(where['commit'])}, {esc(where['date'])}, "
        f"{esc(where['machine'])}.</p>",
        "<h2>Settings</h2>",
        "<table>" + "".join(f'<tr><th class="t">{esc(k)}</th><td class="t">{esc(v)}</td></tr>'
                            for k, v in settings(st.dataset)) + "</table>",
        "<h2 id='findings'>The paper's findings, judged from these numbers</h2>",
        f"<p>{esc(compare.metric_line(st.dataset))}</p>",
        f"<p>{esc(compare.REPLICATES)}</p>",
        f"<p>{esc(compare.noise_line(st.analysis.noise))}</p>",
        f"<p>{esc(findings.CRITERIA)}</p>",
        _table(compare.finding_rows(st.analysis, st.final), compare.FINDING_SHOWN,
               row_class="verdict"),
        "<h2 id='controls'>Convergence controls</h2>",
        "<p>Each selffer less its own base; limits are those the paper's own nets meet.</p>",
        _table(compare.control_rows(st.analysis, st.final), compare.CONTROL_SHOWN,
               row_class="status"),
        *[f"<p class='warning'><strong>{esc(w)}</strong></p>"
          for w in [compare.control_warning(st.analysis)] if w],
        "<h2>Figures</h2>",
    ]
    for title, fig in _figures(st.source):
        parts.append(f"<h3>{esc(title)}</h3><img alt='{esc(title)}' "
                     f"src='data:image/png;base64,{_png(fig)}'>")
    parts += [
        "<h2>Derived quantities per n (percentage points)</h2>",
        "<p>" + "; ".join(f"{esc(k)} = {esc(v)}" for k, v in treatments.DERIVED.items())
        + ", each over the replicates of random splits 0-3 (the paper's: the same computation "
        "on its published nets).</p>",
        _table(compare.derived_rows(st.analysis), compare.DERIVED_SHOWN),
        "<h2>Every network beside the paper</h2>",
        f"<p>Top-1 accuracy (%) at the final test and as plotted; each side's plotted accuracy "
        f"less its own base (points), the comparable number. Paper: {esc(paper.SOURCE)}.</p>",
        _table(compare.net_rows(st.runs), compare.NET_SHOWN),
        *similarity_section(similarity, st.dataset),
        "</body></html>",
    ]
    return "\n".join(parts)


def write(st: Study, out: Path, similarity: Path | None = None) -> Path:
    """Write the page whole or not at all."""
    return write_text(out, page(st, similarity))


def study_findings_markdown(st: Study, where: Mapping[str, str]) -> str:
    """The findings as Markdown: the controls, the findings and the derived quantities with
    their intervals, the noise, the criteria and where they came from."""
    lines = [
        f"# The paper's findings on {st.dataset}, judged from the measured accuracies",
        "",
        f"{len(st.acc)} networks; commit {where['commit']}, {where['date']}, {where['machine']}.",
        f"Made by `make -j2 study DATASET={st.dataset}` (training every network of the plan that "
        "has no final model yet, then `make publish`).",
        "",
        *(f"- {name}: {value}" for name, value in settings(st.dataset)),
        "",
        compare.metric_line(st.dataset),
        "",
        compare.REPLICATES,
        "",
        compare.noise_line(st.analysis.noise),
        "",
        "## Convergence controls",
        "",
        "Each selffer less its own base; limits are those the paper's own nets meet.",
        "",
        *compare.markdown(compare.control_rows(st.analysis, st.final), compare.CONTROL_SHOWN),
        *[line for w in [compare.control_warning(st.analysis)] if w for line in ("", w)],
        "",
        "## Findings",
        "",
        findings.CRITERIA,
        "",
        *compare.markdown(compare.finding_rows(st.analysis, st.final), compare.FINDING_SHOWN),
        "",
        "## Derived quantities per n (percentage points)",
        "",
        "; ".join(f"{k} = {v}" for k, v in treatments.DERIVED.items()) + ".",
        "",
        *compare.markdown(compare.derived_rows(st.analysis), compare.DERIVED_SHOWN),
    ]
    return "\n".join(lines) + "\n"


def publish(st: Study, out: Path, similarity: Path | None = None) -> list[Path]:
    """The committed results of a study: tables, figures, findings and the report, in `out`."""
    src = st.source
    rel = replace(src, relative=True)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_csv(out / "networks.csv", [run.row() for run in st.runs], tables.COLUMNS)]
    for name, rows, columns in (
            ("compare.csv", compare.net_rows(st.runs), compare.NET_COLUMNS),
            ("derived.csv", compare.derived_rows(st.analysis), compare.DERIVED_COLUMNS),
            ("findings.csv", compare.finding_rows(st.analysis, st.final),
             compare.FINDING_COLUMNS),
            ("controls.csv", compare.control_rows(st.analysis, st.final),
             compare.CONTROL_COLUMNS)):
        written.append(write_csv(out / name, rows, columns))
    written.append(write_text(out / "findings.md", study_findings_markdown(st, provenance())))
    figures = {"figure2": figure2(rel, treatments.RANDOM_GROUPS,
                                  "random splits 0-3, each net less its own base"),
               "figure2_split0": figure2(rel, ("split0",), "split 0, each net less its own base"),
               "figure3": figure3(src), "reduced": reduced(src)}
    for stem, fig in figures.items():
        with replacing(out / f"{stem}.png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        written.append(out / f"{stem}.png")
    written.append(write(st, out / "report.html", similarity))
    return written

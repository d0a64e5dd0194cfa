"""The results of run folders `RUNS/<dataset>/<group>/<net>/`: one row per run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from transferability import caffe_io, plan
from transferability.errors import UserError
from transferability.plan import Net, layout
from transferability.plan.datasets import dataset as dataset_record
from transferability.plan.datasets import known
from transferability.results import metric, paper
from transferability.training.logparse import TrainingLog, parse_log

COLUMNS = ("dataset", "group", "net", "paper_name", "source_half", "target_half", "n", "layers",
           "iterations", "top1_accuracy", "top1_plotted", "finished")


@dataclass(frozen=True)
class Run:
    """One run folder: its network, its log (None before training starts), and whether it ended."""

    dataset: str
    net: Net
    path: Path
    log: TrainingLog | None
    finished: bool  # final.caffemodel is there

    @property
    def accuracy(self) -> float | None:
        return self.log.final_accuracy if self.log else None

    @cached_property
    def plotted(self) -> float | None:
        """The paper's plotted number for this run (results/metric.py), from the tests of its log
        and the step schedule of the solver it ran; None before its last lr step is tested."""
        solver = self.path / layout.SOLVER
        if not self.log or not solver.is_file():
            return None
        s = caffe_io.read_solver(solver)
        paper_rule = dataset_record(self.dataset).schedules == "paper"
        return metric.plotted([(it, acc) for it, acc, _ in self.log.tests], paper_rule,
                              s.stepsize, s.max_iter)

    def value(self, which: str) -> float | None:
        """The accuracy by metric: paper.FINAL (the last test) or paper.PLOTTED."""
        return self.accuracy if which == paper.FINAL else self.plotted

    @property
    def iterations(self) -> int:
        return self.log.last_iteration if self.log else 0

    def row(self) -> dict[str, object]:
        net = self.net
        acc, plotted = self.accuracy, self.plotted
        return {
            "dataset": self.dataset, "group": net.group, "net": net.name,
            "paper_name": plan.paper_name(net), "source_half": net.source_half or "",
            "target_half": net.target_half or "", "n": net.n, "layers": layers(net),
            "iterations": self.iterations, "top1_accuracy": "" if acc is None else f"{acc:.6g}",
            "top1_plotted": "" if plotted is None else f"{plotted:.6g}",
            "finished": "yes" if self.finished else "no",
        }


def layers(net: Net) -> str:
    """How the net's first n layers train: frozen, fine-tuned, or scratch (nothing copied)."""
    if net.n == 0:
        return "scratch"
    return "frozen" if net.frozen else "fine-tuned"


def _read_run(dataset: str, net: Net, path: Path) -> Run:
    try:
        log = parse_log(path)
    except FileNotFoundError:
        log = None
    return Run(dataset, net, path, log, (path / layout.FINAL).is_file())


def scan(runs_dir: Path, dataset: str | None = None) -> tuple[list[Run], list[Path]]:
    """Every run folder under runs_dir in plan order, and the folders that name no planned net."""
    if not Path(runs_dir).is_dir():
        raise UserError(f"RUNS_DIR {runs_dir} is not a directory")
    datasets = list(known())
    if dataset is not None and dataset not in datasets:
        raise UserError(f"unknown dataset '{dataset}': expected one of {', '.join(datasets)}")
    nets = {net.key: net for net in plan.known_nets()}
    order = {key: i for i, key in enumerate(nets)}
    runs: list[Run] = []
    unknown: list[Path] = []
    for path in sorted(Path(runs_dir).glob("*/*/*/")):
        ds, key = path.parts[-3], f"{path.parts[-2]}/{path.parts[-1]}"
        if layout.holds_no_runs(ds):
            continue
        if dataset is not None and ds != dataset:
            continue
        if ds in datasets and key in nets:
            runs.append(_read_run(ds, nets[key], path))
        else:
            unknown.append(path)
    runs.sort(key=lambda r: (datasets.index(r.dataset), order[r.net.key]))
    return runs, unknown


def accuracies(runs: Iterable[Run], dataset: str, which: str = paper.FINAL,
               ) -> tuple[dict[str, float], set[str]]:
    """Plan key -> top-1 accuracy by metric (the last test, or paper.PLOTTED), and the keys of
    runs not yet finished."""
    acc: dict[str, float] = {}
    unfinished: set[str] = set()
    for run in runs:
        value = run.value(which) if run.dataset == dataset else None
        if value is not None:
            acc[run.net.key] = value
            if not run.finished:
                unfinished.add(run.net.key)
    return acc, unfinished

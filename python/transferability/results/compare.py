"""This project's results beside the paper's: the tables that `make compare`, the report,
findings.md and the CSV files show, each made once from findings.analyse.

Two metrics stand side by side: the final test, and the number the paper's figures plot (the mean
of the 10 highest tests; on a scaled schedule the mean of the tests in the last lr step,
results/metric.py). The comparison with the paper uses the plotted one on both sides, and compares
each net less its own base: a Fashion-MNIST accuracy and an ImageNet one are not comparable,
their drops from their own bases are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from transferability import plan
from transferability.nets import solver
from transferability.plan.datasets import dataset as dataset_record
from transferability.results import findings, metric, paper, treatments
from transferability.results.estimate import Estimate, Noise
from transferability.results.tables import Run

Cell = str | int | float | None

def plotted_meaning(dataset: str) -> str:
    """What a run's plotted accuracy is on the dataset's schedule (results/metric.py)."""
    standard, _ = solver.schedules(dataset)
    if dataset_record(dataset).schedules == "paper":
        return f"the mean of its {metric.PAPER_BEST} highest tests, the paper's own rule"
    last_change = (standard.max_iter - 1) // standard.stepsize * standard.stepsize
    tests = standard.max_iter // standard.test_interval - last_change // standard.test_interval
    return (f"the mean of its {tests} tests in the last lr step (a test every "
            f"{standard.test_interval} iterations), this schedule's analog of the paper's mean of "
            f"the {metric.PAPER_BEST} highest tests")


# --- every network ---------------------------------------------------------------------------
NET_COLUMNS = ("network", "paper_name", "iterations", "finished", "ours final", "ours plotted",
               "paper final", "paper plotted", "ours less its base", "paper less its base")
RELATIVE = ("ours less its base", "paper less its base")


def net_rows(runs: Sequence[Run], all_published: bool = False) -> list[dict[str, Cell]]:
    """One row per run (and, with all_published, per published net): both metrics as fractions,
    and on the plotted one each side's net less its own base (treatments.own_base)."""
    published = paper.published()
    by_key = {run.net.key: run for run in runs}
    ours = {key: v for key, run in by_key.items() if (v := run.plotted) is not None}
    theirs = paper.accuracies(paper.PLOTTED)
    nets = [net for net in plan.known_nets()
            if net.key in by_key or (all_published and net.key in published)]
    rows = []
    for net in nets:
        run, pub = by_key.get(net.key), published.get(net.key)
        rows.append({
            "network": net.key, "paper_name": plan.paper_name(net),
            "iterations": run.iterations if run else None,
            "finished": ("yes" if run.finished else "no") if run else None,
            "ours final": run.accuracy if run else None,
            "ours plotted": run.plotted if run else None,
            "paper final": pub.accuracy if pub else None,
            "paper plotted": pub.plotted if pub else None,
            "ours less its base": treatments.relative(ours, net.key) if net.key in ours else None,
            "paper less its base": (treatments.relative(theirs, net.key) if pub else None),
        })
    return rows


# --- derived quantities, findings and controls, in percentage points ---------------------------
SHORT = {"co-adaptation drop": "co-adapt", "specificity drop": "specificity",
         "fine-tuning gain": "fine-tune"}
DERIVED_COLUMNS = ("n", *(f"{SHORT[q]} {part}" for q in treatments.DERIVED
                          for part in ("ours", "ours low", "ours high", "replicates", "paper")))
FINDING_COLUMNS = ("finding", "claim", "q", "replicates", "ours", "ours low", "ours high",
                   "verdict", "criterion", "interval", "ours final", "ours final low",
                   "ours final high", "paper", "paper low", "paper high", "paper final")
CONTROL_COLUMNS = ("control", "replicates", "ours", "ours low", "ours high", "limit", "status",
                   "criterion", "interval", "ours final", "paper", "paper final")


def points(x: float | None) -> float | None:
    """A fraction in percentage points, to the 2 decimals every table shows."""
    return None if x is None else round(100 * x, 2) + 0.0  # + 0.0: no "-0.00"


def _estimate(prefix: str, e: Estimate) -> dict[str, Cell]:
    return {prefix: points(e.mean), f"{prefix} low": points(e.low),
            f"{prefix} high": points(e.high)}


def derived_rows(analysis: findings.Analysis) -> list[dict[str, Cell]]:
    """Per n: each derived quantity's mean, 95% interval and replicates, ours and the paper's."""
    rows = []
    for n in treatments.ALL:
        row: dict[str, Cell] = {"n": n}
        for q, short in SHORT.items():
            mine, theirs = analysis.derived[q][n]
            row |= _estimate(f"{short} ours", mine)
            row[f"{short} replicates"] = mine.count if mine.mean is not None else None
            row[f"{short} paper"] = points(theirs.mean)
        rows.append(row)
    return rows


def finding_rows(analysis: findings.Analysis, final: findings.Analysis,
                 ) -> list[dict[str, Cell]]:
    """A row per finding: ours on the plotted metric with its interval and verdict, the same at
    the final test, and the paper's on both metrics."""
    rows = []
    for f, at_final in zip(analysis.findings, final.findings, strict=True):
        rows.append({"finding": f.number, "claim": f.claim, "q": f.quantity,
                     "replicates": f.ours.count, **_estimate("ours", f.ours),
                     "verdict": f.verdict, "criterion": f.criterion, "interval": f.ours.how,
                     **_estimate("ours final", at_final.ours), **_estimate("paper", f.paper),
                     "paper final": points(at_final.paper.mean)})
    return rows


def control_rows(analysis: findings.Analysis, final: findings.Analysis,
                 ) -> list[dict[str, Cell]]:
    rows = []
    for c, at_final in zip(analysis.controls, final.controls, strict=True):
        rows.append({"control": c.name, "replicates": c.ours.count, **_estimate("ours", c.ours),
                     "limit": points(c.limit), "status": c.status, "criterion": c.criterion,
                     "interval": c.ours.how, "ours final": points(at_final.ours.mean),
                     "paper": points(c.paper.mean), "paper final": points(at_final.paper.mean)})
    return rows


def control_warning(analysis: findings.Analysis) -> str | None:
    """A warning when a control is not met: then the base nets may not have converged."""
    failed = sum(c.status == findings.NOT_MET for c in analysis.controls)
    if not failed:
        return None
    return (f"WARNING: {failed} of {len(analysis.controls)} controls NOT met: the base nets may "
            "not have converged, and then the verdicts say as much about the training as about "
            "transfer (train the full schedule, or, on your own images, more EPOCHS)")


# --- how the rows are shown --------------------------------------------------------------------
def interval(row: Mapping[str, Cell], prefix: str) -> str:
    """`+0.29 [-0.19, +0.77]` (points), `+0.29` without an interval, `-` without a value."""
    mean, low, high = row.get(prefix), row.get(f"{prefix} low"), row.get(f"{prefix} high")
    if mean is None:
        return "-"
    return f"{mean:+.2f}" + ("" if low is None or high is None else f" [{low:+.2f}, {high:+.2f}]")


def signed(value: Cell) -> str:
    return "-" if value is None else f"{value:+.2f}" if isinstance(value, float) else str(value)


def percent(value: Cell) -> str:
    """A fraction as a percentage."""
    if value is None:
        return "-"
    return f"{100 * value:.2f}" if isinstance(value, float) else str(value)


# (header, cell) of each shown table; the CSV files hold the same rows' columns
Shown = Sequence[tuple[str, Callable[[Mapping[str, Cell]], str]]]
NET_SHOWN: Shown = (
    ("network", lambda r: str(r["network"])), ("paper's name", lambda r: str(r["paper_name"])),
    ("iterations", lambda r: signed(r["iterations"])),
    ("finished", lambda r: signed(r["finished"])),
    ("ours final (%)", lambda r: percent(r["ours final"])),
    ("ours plotted (%)", lambda r: percent(r["ours plotted"])),
    ("paper final (%)", lambda r: percent(r["paper final"])),
    ("paper plotted (%)", lambda r: percent(r["paper plotted"])),
    ("ours less its base (points)", lambda r: signed(points(r["ours less its base"]))),
    ("paper less its base (points)", lambda r: signed(points(r["paper less its base"]))),
)
DERIVED_SHOWN: Shown = (("n", lambda r: str(r["n"])), *(
    item for short in SHORT.values() for item in (
        (f"{short} ours [95% interval]", lambda r, s=short: interval(r, f"{s} ours")),
        (f"{short} replicates", lambda r, s=short: signed(r[f"{s} replicates"])),
        (f"{short} paper", lambda r, s=short: signed(r[f"{s} paper"])))))
FINDING_SHOWN: Shown = (
    ("#", lambda r: str(r["finding"])), ("the paper's finding", lambda r: str(r["claim"])),
    ("q", lambda r: str(r["q"])), ("replicates", lambda r: str(r["replicates"])),
    ("ours [95% interval]", lambda r: interval(r, "ours")),
    ("verdict", lambda r: str(r["verdict"])), ("criterion", lambda r: str(r["criterion"])),
    ("ours at the final test", lambda r: interval(r, "ours final")),
    ("paper", lambda r: interval(r, "paper")),
    ("paper at its final test", lambda r: signed(r["paper final"])),
)
CONTROL_SHOWN: Shown = (
    ("control", lambda r: str(r["control"])), ("replicates", lambda r: str(r["replicates"])),
    ("ours [95% interval]", lambda r: interval(r, "ours")),
    ("limit", lambda r: f"+-{r['limit']:.1f}"), ("status", lambda r: str(r["status"])),
    ("ours at the final test", lambda r: signed(r["ours final"])),
    ("paper's nets", lambda r: signed(r["paper"])),
    ("paper's nets at their final test", lambda r: signed(r["paper final"])),
)


def cells(rows: Sequence[Mapping[str, Cell]], shown: Shown) -> list[list[str]]:
    return [[show(row) for _, show in shown] for row in rows]


def text_table(rows: Sequence[Mapping[str, Cell]], shown: Shown) -> str:
    """An aligned text table: text columns left-aligned, numbers right-aligned."""
    headers = [h for h, _ in shown]
    body = cells(rows, shown)
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    numeric = [all(is_number(r[i]) for r in body) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in body)])


def is_number(text: str) -> bool:
    return text == "-" or text.lstrip("+-").replace(".", "", 1).split(" ")[0].isdigit()


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None,
                   headers: Sequence[str] | None = None,
                   show: Callable[[str, object], str] = lambda column, value: str(value),
                   ) -> list[str]:
    """A Markdown table's lines: the headers (the columns' names unless given), then a row each.
    Without columns, the first row's keys, and no lines at all for no rows."""
    if columns is None:
        if not rows:
            return []
        columns = list(rows[0])
    return (["| " + " | ".join(headers or columns) + " |",
             "| " + " | ".join("---" for _ in columns) + " |"]
            + ["| " + " | ".join(show(c, row[c]) for c in columns) + " |" for row in rows])


def markdown(rows: Sequence[Mapping[str, Cell]], shown: Shown) -> list[str]:
    """A shown table in Markdown."""
    body = [dict(enumerate(r)) for r in cells(rows, shown)]
    return markdown_table(body, list(range(len(shown))), [h for h, _ in shown])


# --- the words around the tables ---------------------------------------------------------------
def noise_line(noise: Noise | None) -> str:
    if noise is None:
        return ("Seed noise: unknown (no seed replicates of split 0's baseB: train baseB-seed1 "
                "and baseB-seed2, e.g. make noise); a number with one replicate has no interval "
                "and its verdict is 'no data'.")
    return (f"Seed noise: {noise.text()}; it sizes the interval of a number that has one "
            "replicate.")


REPLICATES = ("A replicate is one random split and one direction: the nets of one target half, "
              "each less that half's base net (the mean of the base net and its seed replicates "
              "where they exist), so that the selffers AnA and BnB and the transfers AnB and BnA "
              "count alike. Intervals are 95%: Student's t over the replicates; with one "
              "replicate, the seed noise of each net in the number; for a difference of two "
              "sets (findings 6 and 7), Welch's.")


def metric_line(dataset: str) -> str:
    return ("Accuracies are the number the paper's figures plot: for each net "
            f"{plotted_meaning(dataset)}; the final test stands beside it. The paper's side is "
            "the mean of its nets' 10 highest tests (reference/paper_plotted_accuracy.csv).")


def stand_in_line(dataset: str) -> str:
    """How a dataset other than ImageNet stands beside the paper's 227 px ImageNet nets."""
    record = dataset_record(dataset)
    if record.full_size:
        return (f"The paper's nets saw {record.full_size} at 227 x 227 pixels; {dataset} is the "
                f"same classes and splits at {record.image} x {record.image} with the scaled "
                "CaffeNet, a different resolution: compare each net less its own base, not the "
                "accuracies.")
    return (f"The paper trained on ImageNet; {dataset} is a scaled stand-in: compare each net "
            "less its own base, not the accuracies.")


def report(dataset: str, net_table: Sequence[Mapping[str, Cell]],
           analysis: findings.Analysis, final: findings.Analysis) -> str:
    """`make compare`'s printed report: the tables, with their sources and definitions."""
    parts = [
        f"Top-1 accuracy (%): {dataset} runs beside the paper's (paper: {paper.SOURCE}).",
        metric_line(dataset),
        *([] if dataset == "imagenet" else [stand_in_line(dataset)]),
        "",
        text_table(net_table, NET_SHOWN) if net_table else "(no runs)",
        "",
        REPLICATES,
        noise_line(analysis.noise),
        "",
        "Derived per n (percentage points) over the replicates of random splits 0-3:",
        *(f"  {SHORT[q]:<11}  {q} = {d}" for q, d in treatments.DERIVED.items()),
        "",
        text_table(derived_rows(analysis), DERIVED_SHOWN),
        "",
        "Convergence controls (each selffer less its own base):",
        text_table(control_rows(analysis, final), CONTROL_SHOWN),
        *[w for w in [control_warning(analysis)] if w],
        "",
        "The paper's findings, judged from the numbers (q in percentage points):",
        text_table(finding_rows(analysis, final), [s for s in FINDING_SHOWN
                                                   if s[0] != "criterion"]),
        "",
        "Criteria: " + findings.CRITERIA,
    ]
    return "\n".join(parts)


def markdown_paragraphs(doc: str) -> list[str]:
    """A docstring as markdown: its paragraphs on one line each, numbered items as a list."""
    out: list[str] = []
    for paragraph in doc.strip().split("\n\n"):
        items: list[str] = []
        for line in paragraph.splitlines():
            line = line.strip()
            if not items or re.match(r"^\d+\. ", line):
                items.append(line)
            else:
                items[-1] += " " + line
        out += items + [""]
    return out

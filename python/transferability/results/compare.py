"""This project's results beside the paper's published ones, and the paper's derived quantities."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from transferability import plan
from transferability.results import findings, paper, treatments
from transferability.results.tables import Run

NET_COLUMNS = ("network", "paper_name", "iterations", "finished", "ours", "paper", "difference")
SHORT = {"co-adaptation drop": "co-adapt", "specificity drop": "specificity",
         "fine-tuning gain": "fine-tune"}
DERIVED_COLUMNS = ("n", *(f"{SHORT[q]} {who}" for q in treatments.DERIVED
                          for who in ("ours", "within noise", "paper")))
FINDING_COLUMNS = ("finding", "claim", "q", "q ours", "q paper", "verdict", "criterion")

Cell = str | int | float | None


def net_rows(runs: Sequence[Run], all_published: bool = False) -> list[dict[str, Cell]]:
    """One row per run (and, with all_published, per published net): accuracies as fractions."""
    published = paper.published()
    by_key = {run.net.key: run for run in runs}
    nets = [net for net in plan.all_nets()
            if net.key in by_key or (all_published and net.key in published)]
    rows = []
    for net in nets:
        run, pub = by_key.get(net.key), published.get(net.key)
        ours = run.accuracy if run else None
        theirs = pub.accuracy if pub else None
        rows.append({
            "network": net.key, "paper_name": plan.paper_name(net),
            "iterations": run.iterations if run else None,
            "finished": ("yes" if run.finished else "no") if run else None,
            "ours": ours, "paper": theirs,
            "difference": None if ours is None or theirs is None else ours - theirs,
        })
    return rows


def derived_rows(ours: Mapping[str, float], pool_halves: bool,
                 spread: float | None = None) -> list[dict[str, Cell]]:
    """Per n: each derived quantity from our accuracies and from the paper's (halves pooled);
    ours is "within noise" when smaller than twice the seed-to-seed spread."""
    mine = treatments.derived(treatments.points(ours, treatments.RANDOM_GROUPS, pool_halves))
    theirs = treatments.derived(treatments.points(paper.accuracies(), treatments.RANDOM_GROUPS,
                                                  True))
    rows = []
    for n in range(1, plan.LAYERS + 1):
        row: dict[str, Cell] = {"n": n}
        for q in treatments.DERIVED:
            row[f"{SHORT[q]} ours"], row[f"{SHORT[q]} paper"] = mine[q][n], theirs[q][n]
            row[f"{SHORT[q]} within noise"] = (
                None if mine[q][n] is None or spread is None
                else "yes" if abs(mine[q][n]) < 2 * spread else "no")
        rows.append(row)
    return rows


def finding_rows(found: Sequence[findings.Finding], spread: float | None,
                 ) -> list[dict[str, Cell]]:
    return [{"finding": f.number, "claim": f.claim, "q": f.quantity, "q ours": f.ours,
             "q paper": f.paper, "verdict": f.verdict, "criterion": f.criterion(spread)}
            for f in found]


def control_lines(found: Sequence[findings.Control]) -> list[str]:
    """One line per control: its value, its limit and whether it is met; a warning after them
    when one is not."""
    out = []
    for c in found:
        value = "-" if c.value is None else f"{100 * c.value:+.2f}"
        met = {None: "no data", True: "met", False: "NOT met"}[c.met]
        theirs = "-" if c.paper is None else f"{100 * c.paper:+.2f}"
        out.append(f"  {c.name}: {value} points (limit +-{100 * c.limit:.1f}): {met}; "
                   f"the paper's nets: {theirs}")
    failed = sum(c.met is False for c in found)
    if failed:
        out.append(f"  WARNING: {failed} of {len(found)} controls NOT met: the base nets may not "
                   "have converged, and then the verdicts say as much about the training as about "
                   "transfer (train the full schedule, or, on your own images, more EPOCHS)")
    return out


def judged(acc: Mapping[str, float],
           ) -> tuple[float | None, list[dict[str, Cell]], list[findings.Control]]:
    """What the accuracies say of the paper: the seed noise, the findings' rows, the controls."""
    spread = findings.noise(acc)
    return (spread, finding_rows(findings.findings(acc, spread), spread),
            findings.controls(acc))


def noise_line(spread: float | None) -> str:
    if spread is None:
        return ("Noise: unknown (no seed replicates of split0's baseB: train baseB-seed1 and "
                "baseB-seed2, e.g. make noise); every verdict is 'no data'.")
    return (f"Noise: seed-to-seed spread of split0's baseB (sample standard deviation over "
            f"baseB, baseB-seed1, baseB-seed2) = {100 * spread:.2f} points; a quantity smaller "
            f"than twice that ({200 * spread:.2f} points) is within noise.")


def cell(column: str, value: Cell) -> str:
    """Accuracies in percent, differences in signed percentage points, blanks as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        signed = column in ("difference", "q ours", "q paper") or column in DERIVED_COLUMNS
        return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"
    return str(value)


def text_table(rows: Sequence[Mapping[str, Cell]], columns: Sequence[str]) -> str:
    """An aligned text table: text columns left-aligned, numbers right-aligned."""
    cells = [[cell(c, row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [all(not isinstance(row[c], str) for row in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(r) for r in cells)])


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str],
                   headers: Sequence[str] | None = None,
                   show: Callable[[str, object], str] = lambda column, value: str(value),
                   ) -> list[str]:
    """A Markdown table's lines: the headers (the columns' names unless given), then a row each."""
    return (["| " + " | ".join(headers or columns) + " |",
             "| " + " | ".join("---" for _ in columns) + " |"]
            + ["| " + " | ".join(show(c, row[c]) for c in columns) + " |" for row in rows])


def report(dataset: str, net_table: Sequence[Mapping[str, Cell]],
           derived_table: Sequence[Mapping[str, Cell]], pool_halves: bool,
           finding_table: Sequence[Mapping[str, Cell]] = (), spread: float | None = None,
           controls: Sequence[findings.Control] = ()) -> str:
    """The whole printed report: the tables, with their sources and definitions."""
    halves = "halves A and B pooled" if pool_halves else "target half B only"
    parts = [
        f"Top-1 accuracy (%): {dataset} runs beside the paper; difference = ours - paper "
        "(percentage points).",
        f"Paper: {paper.SOURCE}.",
        *([] if dataset == "imagenet" else [
            f"Note: the paper trained on ImageNet; {dataset} is a scaled stand-in, so compare the "
            "shape of the derived quantities rather than accuracies."]),
        "",
        text_table(net_table, NET_COLUMNS) if net_table else "(no runs)",
        "",
        "Derived per n (percentage points), means over random splits 0-3 "
        f"(ours: {halves}; paper: halves pooled, BnB from its AnA nets):",
        *(f"  {SHORT[q]:<11}  {q} = {d}" for q, d in treatments.DERIVED.items()),
        "",
        noise_line(spread),
        "",
        text_table(derived_table, DERIVED_COLUMNS),
    ]
    if controls:
        parts += ["", "Convergence controls on split 0 (baseB = mean of the base net and its "
                      "seed replicates):", *control_lines(controls)]
    if finding_table:
        parts += ["", "The paper's findings, judged from the numbers (q in percentage points):",
                  text_table(finding_table, FINDING_COLUMNS[:-1]),
                  "", "Criteria: " + findings.__doc__.split("\n\n", 1)[1].replace("\n", " ")]
    return "\n".join(parts)

"""`transferability report`: one self-contained HTML page, opened in a real headless browser."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_refused_unwritable, write_run
from transferability import plan

# Opens the report in a frame and writes what a reader finds there into its own page as JSON,
# which --dump-dom prints: images loaded, the row classes of the findings and controls tables,
# every table's headers, and the page's text as rendered.
CHECK_PAGE = """<!DOCTYPE html><html><body><div id="result">not loaded</div>
<iframe id="report" src="report.html" style="width:1200px;height:900px"></iframe>
<script>
function rows(doc, id) {
  let table = doc.getElementById(id);
  while (table && table.tagName !== "TABLE") table = table.nextElementSibling;
  return table ? Array.from(table.rows).slice(1).map((r) => r.className) : [];
}
document.getElementById("report").onload = function () {
  const doc = this.contentDocument;
  const images = Array.from(doc.images);
  document.getElementById("result").textContent = JSON.stringify({
    loaded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    images: images.length,
    findings: rows(doc, "findings"),
    controls: rows(doc, "controls"),
    headers: Array.from(doc.querySelectorAll("table")).map(
      (t) => Array.from(t.rows[0].cells).map((c) => c.textContent)),
    text: doc.body.innerText,
  });
};
</script></body></html>"""


def _runs(root: Path) -> Path:
    """Split 0 as the demo trains it (selffers BnB, baseB's seed replicates), split 1 as the study
    does (selffers AnA and AnA+ on half A, transfers both ways), natman and whole (constructed
    logs)."""
    runs = root / "runs"
    for net in plan.figure2_nets("0") + plan.noise_nets("split0"):
        acc = 0.85 - (0.02 * net.n if net.name.startswith("A") and net.frozen else 0.0)
        write_run(runs, "fashion-mnist", net.key, acc + 0.001 * net.seed)
    for net in plan.split_nets("split1"):
        if net.source_half == net.target_half == "B" or (net.n and not net.frozen
                                                         and net.source_half == "B"):
            continue
        base = 0.95 if net.target_half == "A" else 0.85
        drop = 0.02 * net.n if net.frozen and net.source_half != net.target_half else 0.0
        write_run(runs, "fashion-mnist", net.key, base - drop - 0.001 * (net.n % 3))
    for net in plan.split_nets("natman")[:2] + plan.whole_nets():
        write_run(runs, "fashion-mnist", net.key, 0.8 - 0.03 * net.n)
    return runs


def _open(browser: str, page: Path) -> dict:
    (page.parent / "check.html").write_text(CHECK_PAGE)
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=10000", "--dump-dom", (page.parent / "check.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    result = re.search(r'<div id="result">(.*?)</div>', dom.stdout, re.S)
    assert result and result[1] != "not loaded", dom.stderr[-2000:]
    return json.loads(html.unescape(result[1]))


def test_report_is_one_page_a_reader_can_read_in_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is missing: `make test-deps` installs it"
    runs = _runs(tmp_path)
    out = tmp_path / "page" / "report.html"
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "report",
                           str(runs), "--dataset", "fashion-mnist", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    source = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", source), "must need no network"
    assert str(tmp_path) not in source  # no path of the machine that made it
    found = _open(browser, out)
    assert found["images"] >= 4 and found["loaded"] == found["images"]
    verdicts = {"reproduced", "not-reproduced", "within-noise", "no-data"}
    assert len(found["findings"]) == 7 and set(found["findings"]) <= verdicts
    assert len(found["controls"]) == 3
    assert set(found["controls"]) <= {"met", "not-met", "within-noise", "no-data"}
    text = found["text"]
    assert "fragile co-adaptation" in text and "95% interval" in text
    assert not re.search(r"[*`]|\]\(|^#+ ", text, re.M), "markup printed as text"
    headers = [h for table in found["headers"] for h in table]
    assert "difference" not in " ".join(headers)
    assert {"ours less its base (points)", "paper less its base (points)", "ours final (%)",
            "ours plotted (%)", "paper final (%)", "paper plotted (%)"} <= set(headers)
    # the demo's BnB on split 0 and the study's AnA on split 1: two replicates of finding 2
    finding2 = next(line for line in text.splitlines() if "fragile co-adaptation" in line)
    assert "\t2\t" in finding2


def test_publish_writes_a_studys_results_folder(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "report",
                           str(_runs(tmp_path)), "--dataset", "fashion-mnist", "--out", str(out),
                           "--publish"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"networks.csv", "compare.csv", "derived.csv", "findings.csv",
                     "controls.csv", "findings.md", "figure2.png", "figure2_split0.png",
                     "figure3.png", "reduced.png", "report.html"}
    text = (out / "findings.md").read_text()
    assert "| 7 | random frozen lower layers" in text and "commit " in text
    assert str(tmp_path) not in text
    assert (out / "figure2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # derived.csv holds every number findings.md shows, to the digit
    with open(out / "derived.csv", newline="") as f:
        derived = list(csv.DictReader(f))
    section = text.split("## Derived quantities per n", 1)[1]
    lines = {line.split(" | ")[0].strip("| "): line for line in section.splitlines()
             if line.startswith("| ") and line[2].isdigit()}
    for row in derived:
        for q in ("co-adapt", "specificity", "fine-tune"):
            assert row[f"{q} ours"] and row[f"{q} paper"], (row["n"], q)
            shown = f"{float(row[f'{q} ours']):+.2f} [{float(row[f'{q} ours low']):+.2f}, "
            assert shown in lines[row["n"]], (row["n"], q, lines[row["n"]])
            assert f"| {float(row[f'{q} paper']):+.2f} |" in lines[row["n"]] + " |"


@pytest.mark.parametrize("var, goal", [("RUNS", "report"), ("REPORT", "report"),
                                       ("RUNS", "compare"), ("FIGURES", "figures"),
                                       ("FIGURES", "figures-paper"), ("RESULTS", "publish")])
def test_a_results_folder_that_cannot_be_written_is_one_line(tmp_path: Path, var: str,
                                                              goal: str) -> None:
    assert_refused_unwritable(tmp_path, var, goal)

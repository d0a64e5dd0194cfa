"""`transferability report`: one self-contained HTML page, opened in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_refused_unwritable, write_run
from transferability import plan

# Opens the report in a frame and writes what it finds into its own page, which --dump-dom prints.
CHECK_PAGE = """<!DOCTYPE html><html><body><div id="result">not loaded</div>
<iframe id="report" src="report.html" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById("report").onload = function () {
  const doc = this.contentDocument;
  const images = Array.from(doc.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  const heading = doc.getElementById("findings");
  let table = heading;
  while (table && table.tagName !== "TABLE") table = table.nextElementSibling;
  const verdicts = table ? Array.from(table.rows).slice(1).map((r) => r.className) : [];
  document.getElementById("result").textContent =
    `images ${loaded}/${images.length} findings ${verdicts.join(",")}`;
};
</script></body></html>"""


def _runs(root: Path) -> Path:
    """Figure 2's nets of split 0, the seed replicates, natman and whole (constructed logs)."""
    runs = root / "runs"
    for net in plan.figure2_nets("0") + plan.noise_nets("split0"):
        acc = 0.85 - (0.02 * net.n if net.name.startswith("A") and net.frozen else 0.0)
        write_run(runs, "fashion-mnist", net.key, acc + 0.001 * net.seed)
    for net in plan.split_nets("natman")[:2] + plan.whole_nets():
        write_run(runs, "fashion-mnist", net.key, 0.8 - 0.03 * net.n)
    return runs


def test_report_is_one_page_whose_images_load_in_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is missing: `make test-deps` installs it"
    out = tmp_path / "page" / "report.html"
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "report",
                           str(_runs(tmp_path)), "--dataset", "fashion-mnist", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "must need no network"
    assert "fragile co-adaptation" in text and "2 x noise" in text
    (out.parent / "check.html").write_text(CHECK_PAGE)
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=10000", "--dump-dom", (out.parent / "check.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    result = re.search(r'<div id="result">([^<]*)</div>', dom.stdout)
    assert result, dom.stderr[-2000:]
    images, verdicts = re.fullmatch(r"images (\d+/\d+) findings (.*)", result[1]).groups()
    loaded, total = map(int, images.split("/"))
    assert total >= 3 and loaded == total  # figure 2 of split 0 and natman, figure 3
    assert len(verdicts.split(",")) == 7
    assert set(verdicts.split(",")) <= {"reproduced", "not-reproduced", "within-noise", "no-data"}


def test_publish_writes_a_studys_results_folder(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "report",
                           str(_runs(tmp_path)), "--dataset", "fashion-mnist", "--out", str(out),
                           "--publish"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"networks.csv", "compare.csv", "derived.csv", "findings.csv", "findings.md",
                     "figure2.png", "figure2_split0.png", "figure3.png", "reduced.png",
                     "report.html"}
    text = (out / "findings.md").read_text()
    assert "| 7 | random frozen lower layers" in text and "commit " in text
    assert (out / "figure2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("var, goal", [("RUNS", "report"), ("REPORT", "report"),
                                       ("RUNS", "compare"), ("FIGURES", "figures"),
                                       ("FIGURES", "figures-paper"), ("RESULTS", "publish")])
def test_a_results_folder_that_cannot_be_written_is_one_line(tmp_path: Path, var: str,
                                                              goal: str) -> None:
    assert_refused_unwritable(tmp_path, var, goal)

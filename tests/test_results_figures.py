"""figures: from synthetic run folders (Caffe 1.0 logs) and from the paper's published numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from tests.conftest import write_run
from transferability import plan
from transferability.cli import main
from transferability.results.figures import (
    Source,
    figure2,
    figure3,
    paper_source,
    reduced,
    run_sources,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _texts(fig: Figure) -> str:
    """Every title, legend entry and annotation of a figure, one string."""
    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        parts.append(ax.get_title())
        parts += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        parts += [t.get_text() for t in legend.get_texts()] if legend else []
    return "\n".join(parts)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Fashion-MNIST split 0's Figure 2 nets but AnB+, one unfinished; a few others."""
    root = tmp_path / "runs"
    for net in plan.figure2_nets("0"):
        if net.name.startswith("A") and net.name.endswith("+"):
            continue
        write_run(root, "fashion-mnist", net.key, 0.8 - 0.01 * net.n, done=net.name != "B7B")
    write_run(root, "fashion-mnist", "natman/baseA", 0.9)
    write_run(root, "fashion-mnist", "natman/B2A", 0.7)
    write_run(root, "fashion-mnist", "reduced/reduced0010", 0.4)
    return root


def test_figures_command_writes_png_and_pdf(runs: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "figs"
    assert main(["figures", str(runs), "--out", str(out), "--split", "0"]) == 0
    names = {"fashion-mnist_figure2_split0", "fashion-mnist_figure3", "fashion-mnist_reduced"}
    written = {Path(line) for line in capsys.readouterr().out.split()}
    assert written == {out / f"{n}.{ext}" for n in names for ext in ("png", "pdf")}
    for path in written:
        head = path.read_bytes()[:8]
        assert head == PNG if path.suffix == ".png" else head.startswith(b"%PDF")


def test_figure2_names_what_is_missing(runs: Path) -> None:
    (src,) = run_sources(runs, None, None)
    assert not src.pool_halves  # Fashion-MNIST's halves differ: target half B only
    fig = figure2(src, ("split0",), "split 0")
    text = _texts(fig)
    assert "no data: AnB+" in text and "AnB+ (no data)" in text
    assert "1 unfinished run" in text
    top = fig.axes[0]
    drawn = sum(len(c.get_offsets()) for c in top.collections)
    assert drawn == 1 + 7 + 7 + 7  # baseB, BnB, BnB+, AnB; baseA is not a target-B point


def test_figure3_and_reduced_draw_what_is_there(runs: Path) -> None:
    (src,) = run_sources(runs, "fashion-mnist", None)
    text = _texts(figure3(src))
    assert "natman B \u2192 natman A" in text
    assert "natman A \u2192 natman B (no data)" in text
    assert "random frozen layers (no data)" in text
    text = _texts(reduced(src))
    assert f"1 of {len(plan.REDUCED_PER_CLASS)} reduced nets" in text


def test_empty_figures_say_so(tmp_path: Path) -> None:
    write_run(tmp_path, "imagenet", "whole/base", 0.5)
    (src,) = run_sources(tmp_path, None, None)
    assert src.pool_halves
    assert "no data" in _texts(figure2(src, ("split0",), "split 0"))
    assert "0 of 12 reduced nets" in _texts(reduced(src))


def test_paper_figures(tmp_path: Path) -> None:
    src = paper_source(None)
    text = _texts(figure2(src, ("split0", "split1", "split2", "split3"), "random splits"))
    assert "Yosinski et al. 2014" in text and "no data" not in text
    text = _texts(figure3(src))
    assert "natural \u2192 man-made" in text and "no data" not in text
    assert f"{len(plan.REDUCED_PER_CLASS)} of" in _texts(reduced(src))
    assert main(["figures", "--paper", "--out", str(tmp_path), "--figure", "2"]) == 0
    assert (tmp_path / "paper_figure2.png").read_bytes()[:8] == PNG


def test_figures_usage_errors(tmp_path: Path, capsys) -> None:
    assert main(["figures", "--out", str(tmp_path)]) == 2
    assert main(["figures", str(tmp_path), "--paper", "--out", str(tmp_path)]) == 2
    assert main(["figures", str(tmp_path), "--out", str(tmp_path)]) == 2  # no run folders
    err = capsys.readouterr().err
    assert err.count("transferability figures: error:") == 3


def test_figure2_draws_the_selffers_of_either_half_with_their_intervals() -> None:
    """Split 0 as the study trains it: selffers AnA on half A only, transfers both ways, baseB's
    seed replicates; each net less its own base, both halves."""
    acc = {"split0/baseA": 0.97, "split0/baseB": 0.89, "split0/baseB-seed1": 0.892,
           "split0/baseB-seed2": 0.887}
    for n in range(1, 8):
        acc |= {f"split0/A{n}A": 0.97, f"split0/A{n}B": 0.89 - 0.01 * n,
                f"split0/B{n}A": 0.97 - 0.01 * n, f"split0/A{n}A+": 0.972}
    src = Source("s", "fashion-mnist", "split 0", acc, True, relative=True)
    fig = figure2(src, ("split0",), "split 0")
    text = _texts(fig)
    assert "no data: AnB+" in text and "BnB (no data)" not in text
    top, bottom = fig.axes
    assert sum(len(c.get_offsets()) for c in top.collections) == 4 + 7 + 7 + 14
    bars = [c for c in bottom.containers if c.has_yerr]
    assert len(bars) == 1 + 3  # baseB, BnB, BnB+, AnB
    # one replicate each (AnA, A1A+ ...), sized by the seed noise: every bar has a length
    for container in bars[1:]:
        segments = container.lines[2][0].get_segments()
        assert len(segments) == 7 and all(s[1][1] - s[0][1] > 0.001 for s in segments)
    assert "95% intervals" in text

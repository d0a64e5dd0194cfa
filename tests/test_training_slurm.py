"""`make slurm DRY_RUN=1` (the job graph, no Slurm needed); `make status` from run folders only."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_run
from transferability import plan
from transferability.caffe_env import REPO_ROOT

TRANSFERABILITY = Path(sys.executable).with_name("transferability")
NO_SLURM = {"SLURM_CONF": os.devnull}  # an empty configuration: squeue fails at once


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(TRANSFERABILITY), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **NO_SLURM})
    if check and proc.returncode != 0:
        pytest.fail(f"transferability {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), *args],
                          capture_output=True, text=True, env={**os.environ, **NO_SLURM})


def sbatch_lines(out: str) -> dict[str, list[str]]:
    """The dry run's `job_x=$(sbatch ...)` lines as job name -> sbatch's words."""
    jobs = {}
    for line in out.splitlines():
        if match := re.fullmatch(r"(job_\w+)=\$\((sbatch .*)\)", line):
            words = shlex.split(match[2].replace("$job_", "JOB_"))
            name = next(w.split("=", 1)[1] for w in words if w.startswith("--job-name="))
            jobs[name] = words
    return jobs


def option(words: list[str], name: str) -> str | None:
    return next((w.split("=", 1)[1] for w in words if w.startswith(f"{name}=")), None)


def test_dry_run_makes_one_job_per_network_transfers_after_their_base(tmp_path: Path,
                                                                       fm_data: Path) -> None:
    runs = tmp_path / "runs"
    out = cli("slurm", "demo", "--runs", runs, "--data", fm_data, "--iters", "6",
              "--sbatch-args=--partition=cpu --time=10", "--dry-run").stdout
    jobs = sbatch_lines(out)
    assert list(jobs) == [f"fashion-mnist/{net.key}" for net in plan.figure2_nets("0")]
    for net in plan.figure2_nets("0"):
        words = jobs[f"fashion-mnist/{net.key}"]
        folder = runs.resolve() / "fashion-mnist" / net.key
        assert option(words, "--chdir") == str(folder)
        assert option(words, "--output") == f"{folder}/slurm-%j.out"
        assert "--requeue" in words and "--partition=cpu" in words and "--time=10" in words
        assert "--gres=gpu:1" not in words
        wanted = f"afterok:JOB_split0_{net.source}" if net.source else None
        assert option(words, "--dependency") == wanted, net.key
    wrap = (f"make -C {REPO_ROOT} fashion-mnist/split0/A3B+ DATASET=fashion-mnist "
            f"RUNS={runs.resolve()} DATA={fm_data} ITERS=6")
    assert jobs["fashion-mnist/split0/A3B+"][-2:] == ["--wrap", wrap]
    # the job's goal is the net's own make target: make would train it, after its base
    dry = subprocess.run([*wrap.split(), "-n"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    trains = [line.split()[-2:] for line in dry.stdout.splitlines() if " train --runs " in line]
    assert trains == [["fashion-mnist", "split0/baseA"], ["fashion-mnist", "split0/A3B+"]], trains
    assert "#   fashion-mnist/split0/baseA -> split0/A1B split0/A1B+ split0/A2B" in out
    assert "waiting for nothing: split0/baseA split0/baseB (2 jobs)" in out
    assert not runs.exists(), "a dry run creates nothing"


def test_finished_networks_are_not_submitted_and_not_waited_for(tmp_path: Path,
                                                                fm_data: Path) -> None:
    write_run(tmp_path, "fashion-mnist", "split0/baseA", 0.9)
    write_run(tmp_path, "fashion-mnist", "split0/A3B", 0.8)
    out = cli("slurm", "figure2", "--runs", tmp_path, "--data", fm_data, "--dry-run").stdout
    jobs = sbatch_lines(out)
    assert len(jobs) == 28
    assert "fashion-mnist/split0/baseA" not in jobs and "fashion-mnist/split0/A3B" not in jobs
    assert option(jobs["fashion-mnist/split0/A4B+"], "--dependency") is None
    assert option(jobs["fashion-mnist/split0/B4B+"], "--dependency") == "afterok:JOB_split0_baseB"
    assert "finished, not submitted: split0/baseA split0/A3B (2)" in out
    assert "28 jobs to submit, 2 finished, 0 queued already" in out


def test_the_paper_plan_is_170_jobs_after_one_data_job_on_gpus(tmp_path: Path) -> None:
    out = cli("slurm", "paper", "--runs", tmp_path / "runs", "--data", tmp_path / "data",
              "--gpu", "--make-var", "FASHION_MNIST=/srv/fm", "--dry-run").stdout
    jobs = sbatch_lines(out)
    assert list(jobs)[0] == "fashion-mnist/data" and len(jobs) == 171
    data = jobs.pop("fashion-mnist/data")
    assert data[-1] == (f"make -C {REPO_ROOT} data DATASET=fashion-mnist RUNS="
                        f"{(tmp_path / 'runs').resolve()} DATA={tmp_path / 'data'} "
                        "FASHION_MNIST=/srv/fm")
    assert "--gres=gpu:1" not in data
    nets = {f"fashion-mnist/{net.key}": net for net in plan.paper_nets()}
    assert set(jobs) == set(nets)
    for name, words in jobs.items():
        base = f":JOB_{nets[name].group}_{nets[name].source}" if nets[name].source else ""
        assert option(words, "--dependency") == f"afterok:JOB_data{base}", name
        assert "--gres=gpu:1" in words
        assert words[-1].startswith("GPU_SHARE=1 make -C ") and " GPU=0 " in words[-1]
    assert "# warning: GPU asked for, but the Caffe in" in out  # this Caffe is CPU-only


@pytest.mark.parametrize("args, message", [
    (["nope"], "unknown PLAN 'nope': use paper, figure2 or demo"),
    (["figure2", "--split", "7"], "unknown SPLIT '7'"),
    (["paper", "--dataset", "cifar"], "unknown DATASET 'cifar'"),
    (["demo", "--sbatch-args=--comment='x"], "SBATCH_ARGS cannot be split into words"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = cli("slurm", *args, "--runs", tmp_path, "--data", tmp_path, "--dry-run", check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_make_slurm_and_make_status(tmp_path: Path, fm_data: Path) -> None:
    args = [f"RUNS={tmp_path}", f"DATA={fm_data}", "ITERS=6"]
    proc = make("slurm", "PLAN=demo", "DRY_RUN=1", "SBATCH_ARGS=--comment='a b'", *args)
    assert proc.returncode == 0, proc.stderr
    jobs = sbatch_lines(proc.stdout)
    assert len(jobs) == 30 and all("--comment=a b" in words for words in jobs.values())
    proc = make("status", "PLAN=demo", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("0 finished, 0 running, 30 waiting, 0 failed "
                                                 "(run folders only; squeue did not answer)")
    proc = make("slurm", "PLAN=every", "DRY_RUN=1", *args)
    assert proc.returncode != 0
    assert "unknown PLAN 'every'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


FAILED_LOG = """# /opt/caffe/bin/caffe train -solver solver.prototxt
I1123 07:00:01.000000  9097 solver.cpp:289] Solving fashion-mnist-split0-baseB
F1123 07:00:02.000000  9097 data_layer.cpp:47] Check failed: mdb_status == 0 (2 vs. 0) No such file
*** Check failure stack trace: ***
"""


def test_status_reads_the_run_folders(tmp_path: Path) -> None:
    write_run(tmp_path, "fashion-mnist", "split0/baseA", 0.875)
    failed = tmp_path / "fashion-mnist/split0/baseB"
    failed.mkdir(parents=True)
    (failed / "train.log").write_text(FAILED_LOG)
    write_run(tmp_path, "fashion-mnist", "split0/A1B", 0.5, done=False, last=300)
    (tmp_path / "fashion-mnist/split0/A1B/solver.prototxt").write_text("max_iter: 1350\n")
    running = write_run(tmp_path, "fashion-mnist", "split0/A2B", 0.5, done=False, last=200)
    with open(running / "train.log", "a") as log:  # a process that writes the log: a run here
        holder = subprocess.Popen(["sleep", "60"], stdout=log)
    try:
        out = cli("status", "figure2", "--runs", tmp_path).stdout.splitlines()
    finally:
        holder.kill()
        holder.wait()
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in out[:-1]}
    assert len(lines) == 30
    assert lines["fashion-mnist/split0/baseA"] == ["finished", "top-1 87.50% at iteration 900"]
    assert lines["fashion-mnist/split0/baseB"] == [
        "failed", "Check failed: mdb_status == 0 (2 vs. 0) No such file"]
    assert lines["fashion-mnist/split0/A1B"] == [
        "waiting", "stopped at iteration 300 of 1350; not queued"]
    assert lines["fashion-mnist/split0/A2B"] == ["running", "iteration 200 of 900 (a process here)"]
    assert lines["fashion-mnist/split0/A3B"] == ["waiting", "not started"]
    assert lines["fashion-mnist/split0/B3B+"] == ["waiting", "not started; its base failed"]
    assert out[-1] == ("plan figure2 (figure 2, split 0, fashion-mnist): 30 networks: 1 finished, "
                       "1 running, 27 waiting, 1 failed (run folders only; squeue did not answer)")

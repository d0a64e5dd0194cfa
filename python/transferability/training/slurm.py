"""The plan as a Slurm job graph: one `sbatch` per network, transfers after their base nets.

Each job runs its network's make target (`make -C REPO fashion-mnist/split0/A3B+ DATASET=..
RUNS=.. DATA=..`, plan/selections.py names them) in its run folder, and logs to
`slurm-<jobid>.out` there. A transfer waits for its base with `--dependency=afterok:<job>`. A
finished network is not submitted, nor one whose job is still queued (squeue, by job name and
working directory); a transfer whose base is finished waits for nothing. Jobs are submitted with
`--requeue`: a requeued or preempted job runs its target again, which resumes from the newest
snapshot. Missing data sets become one `make data` job that every other job waits for.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from transferability import plan
from transferability.caffe_env import REPO_ROOT
from transferability.errors import UserError
from transferability.plan import Net, layout
from transferability.plan.selections import Selection, net_name
from transferability.training.runs import check_gpu_build

# Make's own variables, and those a job's make reads that its command may leave unset: sbatch hands
# its whole environment to the job, where a dead jobserver in MAKEFLAGS or a stray ITERS or GPU
# would change the run.
_NOT_EXPORTED = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ITERS", "GPU")


def run_folder(runs: Path, dataset: str, net: Net) -> Path:
    """The run folder as an absolute path: the job's working directory, as squeue reports it."""
    return layout.run_dir(Path(runs).resolve(), dataset, net)


@dataclass(frozen=True)
class Settings:
    """What every job's make command and sbatch command share."""

    runs: Path
    data: Path
    iters: int | None = None
    gpu: bool = False
    make_vars: tuple[str, ...] = ()
    sbatch_args: tuple[str, ...] = ()

    def make_command(self, goal: list[str], dataset: str) -> str:
        cmd = ["make", "-C", str(REPO_ROOT), *goal, f"DATASET={dataset}",
               f"RUNS={Path(self.runs).resolve()}", f"DATA={Path(self.data).resolve()}"]
        if self.iters is not None:
            cmd.append(f"ITERS={self.iters}")
        if self.gpu:  # Slurm's CUDA_VISIBLE_DEVICES shows the job its one GPU as device 0
            cmd.append("GPU=0")
        cmd += self.make_vars
        return ("GPU_SHARE=1 " if self.gpu else "") + shlex.join(cmd)


@dataclass
class Job:
    """One sbatch: its name, folder (working directory and log), command, and what it waits for."""

    name: str
    folder: Path
    wrap: str
    gpu: bool
    after: list[str] = field(default_factory=list)  # names of jobs of this graph
    after_ids: list[str] = field(default_factory=list)  # ids of jobs queued before

    @property
    def var(self) -> str:
        """A shell variable for the job's id in the dry run's script."""
        return "job_" + self.name.split("/", 1)[-1].replace("/", "_").replace("+", "_ft")


@dataclass(frozen=True)
class Queued:
    job_id: str
    state: str
    reason: str


@dataclass
class Graph:
    """The jobs to submit, in submission order, and what is already finished or queued."""

    selection: Selection
    jobs: list[Job]
    finished: list[str]
    queued: dict[str, Queued]  # job name -> the queued job standing in for it
    slurm_seen: bool


_DONE_STATES = {"COMPLETED", "COMPLETING", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY",
                "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def queued_jobs() -> dict[tuple[str, str], Queued] | None:
    """This user's Slurm jobs by (job name, working directory); None when squeue does not answer."""
    exe = shutil.which("squeue")
    conf = os.environ.get("SLURM_CONF")
    if exe is None or (conf and not Path(conf).exists()):  # squeue would retry for a minute
        return None
    try:
        proc = subprocess.run([exe, "--me", "--noheader", "--format=%i\t%T\t%r\t%Z\t%j"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    jobs: dict[tuple[str, str], Queued] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t", 4)
        if len(parts) == 5 and parts[1] not in _DONE_STATES:
            jobs[(parts[4], parts[3])] = Queued(parts[0], parts[1], parts[2])
    return jobs


def _check_settings(folder: Path, dataset: str, net: Net, iters: int | None) -> None:
    """Refuse now what the job would refuse later: a run folder started with other ITERS."""
    if reason := layout.settings_conflict(folder, layout.settings(dataset, net.key, iters)):
        raise UserError(reason)


def build(selection: Selection, settings: Settings,
          queued: dict[tuple[str, str], Queued] | None) -> Graph:
    """The jobs the plan still needs, each after the job of its base where that is unfinished."""
    dataset = selection.dataset
    by_key = {net.key: net for net in selection.nets}
    nets = list(selection.nets)
    for net in selection.nets:  # a source base outside the selection is trained first
        if net.source_key and net.source_key not in by_key:
            by_key[net.source_key] = plan.find(net.source_key)
            nets.insert(0, by_key[net.source_key])
    graph = Graph(selection, [], [], {}, queued is not None)
    pending: set[str] = set()  # names of jobs of the graph and of queued jobs
    ids: dict[str, str] = {}
    missing_sets: set[str] = set()
    for net in nets:
        name, folder = net_name(dataset, net), run_folder(settings.runs, dataset, net)
        if (folder / layout.FINAL).is_file():
            graph.finished.append(name)
            continue
        _check_settings(folder, dataset, net, settings.iters)
        if queued and (job := queued.get((name, str(folder)))):
            graph.queued[name] = job
            pending.add(name)
            ids[name] = job.job_id
            continue
        job = Job(name, folder, settings.make_command([name], dataset), settings.gpu)
        if net.source_key:
            base = net_name(dataset, by_key[net.source_key])
            if base in ids:
                job.after_ids.append(ids[base])
            elif base in pending:
                job.after.append(base)
        missing_sets |= {s for s in layout.data_stamps(settings.data, dataset, net)
                         if not s.is_file()}
        graph.jobs.append(job)
        pending.add(name)
    if missing_sets:
        _add_data_job(graph, settings, queued)
    return graph


def _add_data_job(graph: Graph, settings: Settings,
                  queued: dict[tuple[str, str], Queued] | None) -> None:
    """One `make data` job before every other: parallel jobs must not build the same LMDBs."""
    dataset = graph.selection.dataset
    name, folder = f"{dataset}/data", layout.data_root(settings.data, dataset).resolve()
    make = Settings(settings.runs, settings.data, None, False, settings.make_vars)
    job = Job(name, folder, make.make_command(["data"], dataset), False)
    if queued and (old := queued.get((name, str(folder)))):
        graph.queued[name] = old
        for other in graph.jobs:
            other.after_ids.insert(0, old.job_id)
        return
    for other in graph.jobs:
        other.after.insert(0, name)
    graph.jobs.insert(0, job)


def sbatch_argv(job: Job, settings: Settings, after: list[str]) -> list[str]:
    """The sbatch command of one job, given the ids of the jobs it waits for."""
    log = str(job.folder).replace("%", "%%")  # sbatch reads '%' in --output as a pattern
    argv = ["sbatch", "--parsable", f"--job-name={job.name}", f"--chdir={job.folder}",
            f"--output={log}/slurm-%j.out", "--open-mode=append", "--requeue"]
    if job.gpu:
        argv.append("--gres=gpu:1")
    if after:
        argv += [f"--dependency=afterok:{':'.join(after)}", "--kill-on-invalid-dep=yes"]
    return [*argv, *settings.sbatch_args, "--wrap", job.wrap]


def dry_run(graph: Graph, settings: Settings) -> str:
    """The sbatch commands as a shell script, then the dependency graph, as `# ` comments."""
    out = [f"# {graph.selection.describe()}: {jobs(len(graph.jobs))} to submit, "
           f"{len(graph.finished)} finished, {len(graph.queued)} queued already"]
    if not graph.slurm_seen:
        out.append("# (squeue did not answer: no queued job is known)")
    if settings.gpu:
        try:

            check_gpu_build()
        except UserError as err:
            out.append(f"# warning: {err}")
    variables = {job.name: job.var for job in graph.jobs}
    for job in graph.jobs:
        after = [*job.after_ids, *(f"${variables[name]}" for name in job.after)]
        argv = sbatch_argv(job, settings, ["@"] if after else [])
        words = [shlex.quote(word) for word in argv]
        if after:
            words = [f"--dependency=afterok:{':'.join(after)}" if w.startswith("--dependency=")
                     else w for w in words]
        out.append(f"mkdir -p {shlex.quote(str(job.folder))}")
        out.append(f"{job.var}=$({' '.join(words)})")
    out += _graph_lines(graph)
    return "\n".join(out)


def jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def _graph_lines(graph: Graph) -> list[str]:
    """The dependency graph, one line per job that others wait for: `X -> Y Z`."""
    short = lambda name: name.split("/", 1)[-1]  # noqa: E731 - one dataset per graph
    labels = {q.job_id: f"{name} (queued as job {q.job_id})" for name, q in graph.queued.items()}
    dependents: dict[str, list[str]] = {}
    free: list[str] = []
    for job in graph.jobs:
        waits = [*job.after, *(labels.get(i, f"job {i}") for i in job.after_ids)]
        for wait in waits:
            dependents.setdefault(wait, []).append(short(job.name))
        if not waits:
            free.append(short(job.name))
    out = ["# dependency graph (X -> Y: Y starts once X has finished):"]
    out += [f"#   {wait} -> {' '.join(names)} ({jobs(len(names))})"
            for wait, names in dependents.items()]
    if free:
        out.append(f"#   waiting for nothing: {' '.join(free)} ({jobs(len(free))})")
    if graph.finished:
        names = [short(name) for name in graph.finished]
        out.append(f"#   finished, not submitted: {' '.join(names)} ({len(names)})")
    return out


def submit_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in _NOT_EXPORTED:
        env.pop(name, None)
    return env


def submit(graph: Graph, settings: Settings) -> dict[str, str]:
    """Submit every job of the graph in order; job name -> job id. Prints one line per job."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise UserError("sbatch not found: Slurm's client commands must be on PATH "
                        "(DRY_RUN=1 prints the jobs without submitting)")
    if settings.gpu:

        check_gpu_build()
    env = submit_environment()
    ids: dict[str, str] = {}
    for job in graph.jobs:
        job.folder.mkdir(parents=True, exist_ok=True)
        after = [*job.after_ids, *(ids[name] for name in job.after)]
        argv = sbatch_argv(job, settings, after)
        proc = subprocess.run([sbatch, *argv[1:]], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise UserError(f"sbatch refused {job.name}: {why} ({len(ids)} jobs submitted "
                            f"before it{': ' + ' '.join(ids.values()) if ids else ''})")
        ids[job.name] = proc.stdout.strip().split(";")[0]
        waits = f" after job {', '.join(after)}" if after else ""
        print(f"submitted job {ids[job.name]}: {job.name}{waits}", flush=True)
    return ids

"""`make slurm` on a real one-node Slurm cluster (slurmctld, slurmd, munged started here, as root).

The Fashion-MNIST figure-2 plan (30 networks) goes to the cluster with ITERS=6, held; the test
checks the job graph Slurm holds, releases the transfers before their bases (they must stay
pending), requeues base A while it waits at its snapshot of iteration 4 (it must resume from the
one of iteration 3), waits for every job, and compares each network's weights with those of a
plain local `make -j2` of the same plan.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from caffe.proto import caffe_pb2

from tests.conftest import hold_snapshot, wait_held
from transferability import plan
from transferability.caffe_env import REPO_ROOT

ITERS = 6
NETS = plan.figure2_nets("0")
NAMES = [f"fashion-mnist/{net.key}" for net in NETS]
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _ensure_slurm() -> None:
    """Install Debian's slurm-wlm and munge where missing; skip only when apt-get cannot."""
    if os.geteuid() != 0:
        pytest.skip("a private Slurm cluster here runs its daemons as root (SlurmUser=root)")
    if all(shutil.which(tool, path=SBIN) for tool in DAEMONS + CLIENTS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"]
    proc = subprocess.run(install, capture_output=True, text=True, env=env)
    if proc.returncode != 0:  # maybe no package lists yet
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        proc = subprocess.run(install, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"Slurm is not installed and `apt-get install slurm-wlm munge` failed: {why}")


def weights(model: Path) -> dict[str, list[bytes]]:
    """Each layer's blobs of a .caffemodel, as bytes."""
    net = caffe_pb2.NetParameter()
    net.ParseFromString(model.read_bytes())
    return {layer.name: [np.asarray(b.data, np.float32).tobytes() for b in layer.blobs]
            for layer in net.layer if layer.blobs}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """munged, slurmctld and slurmd on localhost: private socket, ports and state folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.jobcomp = root / "jobcomp.txt"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": SBIN}

    def write_config(self) -> None:
        munge = self.root / "munge"
        munge.mkdir(mode=0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for name in ("state", "spool"):
            (self.root / name).mkdir()
        r = self.root
        self.conf.write_text(f"""\
ClusterName=transferability-test
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge}/munge.socket
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
MailProg=/bin/true
NodeName={self.host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")

    def _start(self, name: str, *args: str) -> None:
        out = open(self.root / f"{name}.out", "wb")
        self.procs.append(subprocess.Popen([shutil.which(name, path=SBIN), *args], env=self.env,
                                           stdout=out, stderr=subprocess.STDOUT))
        out.close()

    def start(self) -> None:
        self.write_config()
        munge = self.root / "munge"
        self._start("munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
                    f"--key-file={munge}/munge.key", f"--pid-file={munge}/munged.pid",
                    f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed")
        deadline = time.monotonic() + 20
        while not (munge / "munge.socket").exists():
            self._alive_before(deadline, "munged's socket")
        self._start("slurmctld", "-D", "-f", str(self.conf))
        self._start("slurmd", "-D", "-f", str(self.conf), "-N", self.host)
        deadline = time.monotonic() + 60
        while self.run("sinfo", "--noheader", "--format=%T", check=False).stdout.strip() != "idle":
            self._alive_before(deadline, "an idle node in sinfo")

    def _alive_before(self, deadline: float, what: str) -> None:
        dead = [p.args[0] for p in self.procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join((self.root / f"{Path(p.args[0]).name}.out").read_text(
                errors="replace")[-1500:] for p in self.procs)
            why = f"exited: {' '.join(dead)}" if dead else "timed out"
            pytest.fail(f"no {what}: {why}\n{logs}")
        time.sleep(0.2)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), capture_output=True, text=True, env=self.env)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed: {proc.stderr}")
        return proc

    def jobs(self) -> dict[str, dict[str, str]]:
        """Job id -> `scontrol show job` fields of every job slurmctld knows."""
        out = self.run("scontrol", "--oneliner", "show", "job").stdout
        jobs = {}
        for line in out.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def stop(self) -> None:
        """Cancel what still runs, then stop each daemon started here by its process id."""
        if self.procs and all(p.poll() is None for p in self.procs):
            self.run("scancel", "--me", check=False)
            deadline = time.monotonic() + 20
            while (self.run("squeue", "--me", "--noheader", check=False).stdout.strip()
                   and time.monotonic() < deadline):
                time.sleep(0.5)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    _ensure_slurm()
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), *args,
           "DATASET=fashion-mnist", f"ITERS={ITERS}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory: pytest.TempPathFactory, fm_data: Path) -> Path:
    """The same plan trained by a plain local make, two networks at a time."""
    runs = tmp_path_factory.mktemp("local_runs")
    finals = [str(runs / name / "final.caffemodel") for name in NAMES]
    make("-j2", *finals, f"RUNS={runs}", f"DATA={fm_data}")
    return runs


def _wait_for(what: str, test, timeout: float, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(step)


@pytest.fixture(scope="module")
def slurm_run(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, fm_data: Path,
              local_runs: Path) -> dict:
    """`make slurm PLAN=demo`, held; transfers released first; base A requeued midway."""
    runs = tmp_path_factory.mktemp("slurm_runs")
    args = ["slurm", "PLAN=demo", f"RUNS={runs}", f"DATA={fm_data}", "SBATCH_ARGS=--hold"]
    seen: dict = {"runs": runs, "status": []}
    seen["submit"] = make(*args, env=cluster.env).stdout
    ids = dict(re.findall(r"^submitted job (\d+): (\S+)", seen["submit"], re.M))
    seen["ids"] = {name: job for job, name in ids.items()}
    seen["first_ids"] = dict(seen["ids"])
    seen["held"] = cluster.jobs()
    seen["resubmit_queued"] = make(*args, env=cluster.env).stdout
    cluster.run("scancel", seen["ids"]["fashion-mnist/split0/A3B"])  # submitted again, alone
    seen["resubmit_one"] = make(*args, env=cluster.env).stdout
    seen["cancelled"] = seen["ids"]["fashion-mnist/split0/A3B"]
    seen["ids"].update({name: job for job, name in re.findall(
        r"^submitted job (\d+): (\S+)", seen["resubmit_one"], re.M)})
    status = ["status", "PLAN=demo", f"RUNS={runs}"]
    bases = [seen["ids"][f"fashion-mnist/split0/base{h}"] for h in "AB"]
    transfers = [job for job in seen["ids"].values() if job not in bases]
    cluster.run("scontrol", "release", ",".join(transfers))
    _wait_for("the scheduler to see the released transfers", lambda: all(  # then only their
        cluster.jobs()[job]["Reason"] == "Dependency" for job in transfers), 60)  # base holds them
    seen["transfers_released"] = cluster.jobs()
    seen["status"].append(make(*status, env=cluster.env).stdout)
    # base A waits at its snapshot of iteration 4 (of 6, one every iteration) until requeued:
    # the one of iteration 3 is whole, whatever the speed of the machine
    hold = hold_snapshot(runs / "fashion-mnist/split0/baseA", 4)
    cluster.run("scontrol", "release", ",".join(bases))
    wait_held(hold)
    cluster.run("scontrol", "requeue", bases[0])
    _wait_for("base A back in the queue", lambda: cluster.jobs()[bases[0]]["JobState"]
              == "PENDING", 30)
    hold.unlink()
    seen["status"].append(make(*status, env=cluster.env).stdout)
    # Slurm delays a requeued job by 2 minutes; a start within the requeue's second would find
    # its credential revoked (slurmctld: "Job credential revoked"), hence 3 seconds.
    cluster.run("scontrol", "update", f"jobid={bases[0]}", "StartTime=now+3")

    def done() -> bool:
        if not cluster.run("squeue", "--me", "--noheader", check=False).stdout.strip():
            return True
        if int(time.monotonic()) % 30 == 0:
            seen["status"].append(make(*status, env=cluster.env).stdout)
        return False

    _wait_for("every job to leave the queue", done, 420, step=1)
    seen["status"].append(make(*status, env=cluster.env).stdout)
    seen["resubmit_done"] = make(*args, env=cluster.env).stdout
    return seen


def test_one_held_job_per_network_with_its_graph(slurm_run: dict) -> None:
    ids = slurm_run["first_ids"]
    assert list(ids) == NAMES
    assert "submitted 30 jobs, 0 finished already, 0 queued already" in slurm_run["submit"]
    held = slurm_run["held"]
    for net, name in zip(NETS, NAMES, strict=True):
        job = held[ids[name]]
        folder = slurm_run["runs"] / name
        assert job["JobName"] == name and job["WorkDir"] == str(folder)
        assert job["StdOut"] == f"{folder}/slurm-{job['JobId']}.out"
        assert job["Requeue"] == "1" and job["Reason"] == "JobHeldUser"
        base = ids.get(f"fashion-mnist/{net.source_key}")
        assert job["Dependency"] == (f"afterok:{base}(unfulfilled)" if base else "(null)"), name


def test_a_queued_job_is_not_submitted_twice(slurm_run: dict) -> None:
    assert "submitted 0 jobs, 0 finished already, 30 queued already" in (
        slurm_run["resubmit_queued"])
    base = slurm_run["ids"]["fashion-mnist/split0/baseA"]
    job = slurm_run["ids"]["fashion-mnist/split0/A3B"]
    assert job != slurm_run["cancelled"]
    assert f"submitted job {job}: fashion-mnist/split0/A3B after job {base}\n" in (
        slurm_run["resubmit_one"])
    assert "submitted 1 job, 0 finished already, 29 queued already" in slurm_run["resubmit_one"]


def test_released_transfers_wait_for_their_held_base(slurm_run: dict) -> None:
    jobs = slurm_run["transfers_released"]
    for name in NAMES[2:]:
        job = jobs[slurm_run["ids"][name]]
        assert (job["JobState"], job["Reason"]) == ("PENDING", "Dependency"), name
    lines = slurm_run["status"][0].splitlines()
    assert sum(" waiting " in line and "pending, Dependency" in line for line in lines) == 28
    assert sum(" waiting " in line and "pending, JobHeldUser" in line for line in lines) == 2


def _jobcomp(path: Path) -> list[dict[str, str]]:
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in path.read_text().splitlines()]


def test_every_job_completed(slurm_run: dict, cluster: Cluster) -> None:
    records = _jobcomp(cluster.jobcomp)
    last = {r["JobId"]: r for r in records}  # a requeued job has a record per start
    assert {last[job]["JobName"] if "JobName" in last[job] else last[job]["Name"]
            for job in slurm_run["ids"].values()} == set(NAMES)
    assert all(last[job]["JobState"] == "COMPLETED" for job in slurm_run["ids"].values())
    for name in NAMES:
        assert (slurm_run["runs"] / name / "final.caffemodel").is_file()
    assert "submitted 0 jobs, 30 finished already, 0 queued already" in (
        slurm_run["resubmit_done"])


_GLOG_TIME = re.compile(r"^[IWEF](\d{8}|\d{4}) (\d\d:\d\d:\d\d\.\d{6}) ")


def _glog_times(text: str, containing: str = "") -> list[datetime]:
    """The times of the glog lines of a log (those containing a text); MMDD is this year's."""
    out = []
    for line in text.splitlines():
        if (match := _GLOG_TIME.match(line)) and containing in line:
            day = match[1] if len(match[1]) == 8 else f"{datetime.now().year}{match[1]}"
            out.append(datetime.strptime(f"{day} {match[2]}", "%Y%m%d %H:%M:%S.%f"))
    return out


def test_no_transfer_started_before_its_base_finished(slurm_run: dict, cluster: Cluster) -> None:
    runs = slurm_run["runs"]
    last = {r["JobId"]: r for r in _jobcomp(cluster.jobcomp)}
    for net, name in zip(NETS, NAMES, strict=True):
        if net.source is None:
            continue
        base = f"fashion-mnist/{net.source_key}"
        done = _glog_times((runs / base / "train.log").read_text(), "Optimization Done")[-1]
        started = _glog_times((runs / name / "train.log").read_text())[0]
        assert started > done, f"{name} started at {started}, {base} finished at {done}"
        job, base_job = last[slurm_run["ids"][name]], last[slurm_run["ids"][base]]
        assert job["StartTime"] >= base_job["EndTime"], name  # ISO times: string order is time


def test_the_requeued_base_resumed_from_its_snapshot(slurm_run: dict) -> None:
    folder = slurm_run["runs"] / "fashion-mnist/split0/baseA"
    out = (folder / f"slurm-{slurm_run['ids']['fashion-mnist/split0/baseA']}.out").read_text()
    assert "DUE TO JOB REQUEUE" in out
    assert "training on the CPU resuming at iteration 3 " in out, out
    first, resumed = re.split(r"^# ", (folder / "train.log").read_text(), flags=re.M)[1:]
    assert "snapshot_iter_4.caffemodel" in first and "Optimization Done" not in first
    assert "Resuming data at batch" in resumed and "Optimization Done" in resumed
    assert any("fashion-mnist/split0/baseA  waiting   job " in s for s in slurm_run["status"])


def test_weights_equal_a_local_make_run(slurm_run: dict, local_runs: Path) -> None:
    for name in NAMES:
        ours = weights(slurm_run["runs"] / name / "final.caffemodel")
        assert ours == weights(local_runs / name / "final.caffemodel"), name


def test_status_says_where_each_network_stands(slurm_run: dict, local_runs: Path) -> None:
    lines = slurm_run["status"][-1].splitlines()
    assert lines[-1].endswith("30 networks: 30 finished, 0 running, 0 waiting, 0 failed "
                              "(run folders and squeue)")
    for name, line in zip(NAMES, lines, strict=False):
        assert re.fullmatch(rf"{re.escape(name)} +finished +top-1 \d+\.\d\d% at iteration 6",
                            line), line
    running = [line for s in slurm_run["status"] for line in s.splitlines() if " running " in line]
    assert all(re.search(r"(iteration \d+ of 6|starting) \(job \d+\)$", line) for line in running)

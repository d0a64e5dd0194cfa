"""The foundation: the project's own Caffe build, pycaffe in the venv, a real training run."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
from caffe.proto import caffe_pb2
from google.protobuf import text_format

from tests.conftest import run_caffe
from transferability.caffe_env import REPO_ROOT


def test_caffe_version(caffe_bin: Path) -> None:
    out = subprocess.run([str(caffe_bin), "--version"], capture_output=True, text=True, check=True)
    assert "caffe version 1.0.0" in out.stdout + out.stderr


def test_every_tool_is_installed(caffe_dir: Path) -> None:
    for tool in ("caffe", "convert_imageset", "compute_image_mean", "upgrade_net_proto_text",
                 "extract_features"):
        assert os.access(caffe_dir / "bin" / tool, os.X_OK), tool


def test_pycaffe_netspec_forward() -> None:
    import caffe
    from caffe import layers as L

    spec = caffe.NetSpec()
    spec.data = L.Input(shape=dict(dim=[2, 3, 8, 8]))
    spec.conv = L.Convolution(spec.data, num_output=4, kernel_size=3,
                              weight_filler=dict(type="constant", value=1))
    spec.prob = L.Softmax(L.InnerProduct(spec.conv, num_output=5))
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"netspec-{os.getpid()}.prototxt"
    path.write_text(str(spec.to_proto()))
    try:
        net = caffe.Net(str(path), caffe.TEST)
    finally:
        path.unlink()
    net.blobs["data"].data[...] = 1.0
    out = net.forward()["prob"]
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(net.blobs["conv"].data, 27.0)  # 3x3x3 ones, no bias filled


def _tiny_solver(tmp: Path, lmdb: Path, iters: int) -> Path:
    net = caffe_pb2.NetParameter(name="tiny")
    data = net.layer.add(name="data", type="Data", top=["data", "label"])
    data.data_param.source, data.data_param.batch_size = str(lmdb), 20
    data.data_param.backend = caffe_pb2.DataParameter.LMDB
    data.transform_param.scale = 1 / 256
    fc = net.layer.add(name="fc", type="InnerProduct", bottom=["data"], top=["fc"])
    fc.inner_product_param.num_output = 4
    fc.inner_product_param.weight_filler.type = "xavier"
    net.layer.add(name="loss", type="SoftmaxWithLoss", bottom=["fc", "label"], top=["loss"])
    (tmp / "net.prototxt").write_text(text_format.MessageToString(net))
    solver = caffe_pb2.SolverParameter(
        net="net.prototxt", base_lr=0.1, lr_policy="fixed", momentum=0.9, max_iter=iters,
        display=1, snapshot_prefix="tiny", random_seed=3, solver_mode=caffe_pb2.SolverParameter.CPU)
    (tmp / "solver.prototxt").write_text(text_format.MessageToString(solver))
    return tmp / "solver.prototxt"


def test_train_tiny_net_loss_falls(tmp_path: Path, tiny_lmdb: Path) -> None:
    solver = _tiny_solver(tmp_path, tiny_lmdb, iters=30)
    log = run_caffe("train", "-solver", solver, cwd=tmp_path).stderr
    losses = [float(x) for x in re.findall(r"Iteration \d+.*?, loss = ([\d.e+-]+)", log)]
    assert len(losses) >= 20
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    snapshot = tmp_path / "tiny_iter_30.caffemodel"
    model = caffe_pb2.NetParameter()
    model.ParseFromString(snapshot.read_bytes())
    fc = next(layer for layer in model.layer if layer.name == "fc")
    assert list(fc.blobs[0].shape.dim) == [4, 256]


def test_missing_caffe_home_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "CAFFE_HOME": str(tmp_path / "nothing")}
    proc = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "caffe"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"no Caffe at CAFFE_HOME={tmp_path / 'nothing'}" in proc.stderr


def test_cli_reports_missing_caffe(tmp_path: Path) -> None:
    env = {**os.environ, "CAFFE_HOME": str(tmp_path)}
    code = ("from transferability.caffe_env import caffe_tool\n"
            "try:\n    caffe_tool()\nexcept Exception as e:\n    print(e)")
    out = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-c", code], env=env,
                         capture_output=True, text=True).stdout
    assert f"no Caffe at CAFFE_HOME={tmp_path}" in out


def test_cli_version() -> None:
    out = subprocess.run([str(REPO_ROOT / ".venv/bin/transferability"), "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("transferability ")

"""Generated networks and solvers: equal to a fresh generation, current, faithful to the paper."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from caffe.proto import caffe_pb2
from google.protobuf import text_format

from tests.conftest import write_datum_lmdb
from transferability import plan
from transferability.caffe_env import REPO_ROOT, caffe_tool
from transferability.nets import caffenet, generate


def _committed() -> dict[str, str]:
    return {str(p.relative_to(REPO_ROOT)): p.read_text()
            for top in ("prototxt", "solvers") for p in (REPO_ROOT / top).rglob("*.prototxt")}


def _net(path: Path) -> caffe_pb2.NetParameter:
    return text_format.Parse(path.read_text(), caffe_pb2.NetParameter())


def test_committed_files_equal_a_fresh_generation() -> None:
    fresh, committed = generate.all_files(), _committed()
    assert sorted(fresh) == sorted(committed), "run `make prototxt`"
    changed = [path for path, text in fresh.items() if committed[path] != text]
    assert not changed, f"stale, run `make prototxt`: {changed[:5]}"


def test_plan_sizes() -> None:
    assert len(plan.paper_nets()) == 170
    assert len(plan.figure2_nets("0")) == 30
    assert len(_committed()) == 2 * (len(plan.DATASETS) * len(plan.all_nets())
                                     + len(plan.factor_nets()))
    assert len(plan.factor_sources()) == 3 * 3 + 1


def test_factor_sources_vary_width_and_depth() -> None:
    """The grid's sources: CaffeNet's profile scaled in width, with a conv left out or added."""
    fm = caffenet.PROFILES["fashion-mnist"]
    for net in plan.factor_sources():
        path = REPO_ROOT / "prototxt" / "fashion-mnist" / net.group / f"{net.name}.prototxt"
        layers = _learnable(_net(path))
        p = caffenet.variant(fm, net.width, net.depth)
        assert [layer.name for layer in layers] == list(caffenet.learnable(p))
        assert len(layers) == net.depth and not any(layer.param[0].lr_mult == 0
                                                    for layer in layers)
        convs = [layer.convolution_param.num_output for layer in layers[:-3]]
        assert convs[0] == round(16 * net.width) and layers[-3].inner_product_param.num_output \
            == round(128 * net.width)
        assert layers[-1].inner_product_param.num_output == fm.classes
    assert caffenet.variant(fm) == fm
    with pytest.raises(ValueError):
        caffenet.variant(fm, depth=10)


@pytest.mark.parametrize("dataset", plan.DATASETS)
def test_upgrade_net_proto_text_changes_nothing(tmp_path: Path, dataset: str) -> None:
    # Every net of a dataset is one of these (the next test checks it), up to its name.
    tool = caffe_tool("upgrade_net_proto_text")
    for i, net in enumerate(_distinct_nets(dataset)):
        path, out = tmp_path / f"net{i}.prototxt", tmp_path / f"upgraded{i}.prototxt"
        path.write_text(text_format.MessageToString(net))
        subprocess.run([str(tool), str(path), str(out)], check=True, capture_output=True)
        assert _net(out) == net


def _learnable(net: caffe_pb2.NetParameter) -> list[caffe_pb2.LayerParameter]:
    return [layer for layer in net.layer if layer.type in ("Convolution", "InnerProduct")]


@pytest.mark.parametrize("dataset", plan.DATASETS)
def test_frozen_layers_and_fc8(dataset: str) -> None:
    classes = caffenet.PROFILES[dataset].classes
    for net in plan.all_nets():
        path = REPO_ROOT / "prototxt" / dataset / net.group / f"{net.name}.prototxt"
        layers = _learnable(_net(path))
        assert [layer.name for layer in layers] == list(caffenet.LEARNABLE)
        assert layers[-1].inner_product_param.num_output == classes
        frozen = net.n if net.frozen else 0
        for i, layer in enumerate(layers, 1):
            want = [(0, 0), (0, 0)] if i <= frozen else [(1, 1), (2, 0)]
            assert [(p.lr_mult, p.decay_mult) for p in layer.param] == want, (net.key, layer.name)


def test_imagenet_net_is_the_papers_caffenet() -> None:
    net = _net(REPO_ROOT / "prototxt/imagenet/split0/baseA.prototxt")
    kinds = [layer.name for layer in net.layer]
    assert kinds == ["data", "data", "conv1", "relu1", "pool1", "norm1", "conv2", "relu2", "pool2",
                     "norm2", "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5", "fc6",
                     "relu6", "drop6", "fc7", "relu7", "drop7", "fc8", "accuracy", "loss"]
    layers = {layer.name: layer for layer in net.layer}
    conv = [(layers[f"conv{i}"].convolution_param) for i in range(1, 6)]
    assert [(c.num_output, c.kernel_size[0], c.group, c.bias_filler.value) for c in conv] == [
        (96, 11, 1, 0), (256, 5, 2, 1), (384, 3, 1, 0), (384, 3, 2, 1), (256, 3, 2, 1)]
    assert conv[0].stride[0] == 4 and conv[0].weight_filler.std == pytest.approx(0.01)
    assert layers["fc6"].inner_product_param.weight_filler.std == pytest.approx(0.005)
    assert layers["fc6"].inner_product_param.num_output == 4096
    train, test = net.layer[0], net.layer[1]
    assert (train.data_param.batch_size, train.transform_param.crop_size,
            train.transform_param.mirror) == (256, 227, True)
    assert (test.data_param.batch_size, test.transform_param.mirror) == (50, False)
    assert layers["norm1"].lrn_param.local_size == 5
    assert layers["drop6"].dropout_param.dropout_ratio == pytest.approx(0.5)


@pytest.mark.parametrize("name, numbers", [
    ("split0/A3B", (0.01, 100000, 450000, 1000, 1000, 10000)),
    ("reduced/reduced0010", (0.0125, 64000, 200000, 1000, 1000, 10000)),
])
def test_imagenet_solver_numbers(name: str, numbers: tuple) -> None:
    s = text_format.Parse((REPO_ROOT / f"solvers/imagenet/{name}.prototxt").read_text(),
                          caffe_pb2.SolverParameter())
    assert (s.base_lr, s.stepsize, s.max_iter, s.test_iter[0], s.test_interval,
            s.snapshot) == pytest.approx(numbers)
    assert (s.lr_policy, s.gamma, s.momentum, s.weight_decay) == (
        "step", pytest.approx(0.1), pytest.approx(0.9), pytest.approx(0.0005))


def test_fashion_mnist_solvers_test_four_times_in_the_last_lr_step() -> None:
    """The tests the paper's-metric analog averages (results/metric.py), none at iteration 0."""
    for name in ("split0/baseB", "split0/A7B+", "whole/random3", "factors/w2-d9"):
        s = text_format.Parse((REPO_ROOT / f"solvers/fashion-mnist/{name}.prototxt").read_text(),
                              caffe_pb2.SolverParameter())
        tests = list(range(s.test_interval, s.max_iter + 1, s.test_interval))
        assert (s.test_interval, s.test_initialization, tests[-1]) == (750, False, s.max_iter)
        assert len([it for it in tests if it > 2 * s.stepsize]) == 4


def _distinct_nets(dataset: str) -> list[caffe_pb2.NetParameter]:
    distinct: dict[bytes, caffe_pb2.NetParameter] = {}
    for path in (REPO_ROOT / "prototxt" / dataset).rglob("*.prototxt"):
        net = _net(path)
        net.ClearField("name")
        distinct.setdefault(net.SerializeToString(deterministic=True), net)
    return list(distinct.values())


@pytest.mark.parametrize("dataset, shape", [("fashion-mnist", (1, 28, 28)),
                                            ("imagenet", (3, 256, 256))])
def test_every_net_initialises_in_pycaffe(tmp_path: Path, dataset: str, shape: tuple) -> None:
    import caffe

    nets = _distinct_nets(dataset)
    # a dataset's nets differ only in how many layers are frozen; Fashion-MNIST's factors grid
    # adds 8 sources of other widths and depths
    assert len(nets) == (16 if dataset == "fashion-mnist" else 8)
    images = np.random.default_rng(0).integers(0, 255, size=(2, *shape), dtype=np.uint8)
    write_datum_lmdb(tmp_path / "train_lmdb", images, [0, 1])
    (tmp_path / "val_lmdb").symlink_to(tmp_path / "train_lmdb")
    subprocess.run([str(caffe_tool("compute_image_mean")), "train_lmdb", "mean.binaryproto"],
                   cwd=tmp_path, check=True, capture_output=True)
    for i, net in enumerate(nets):
        path = tmp_path / f"net{i}.prototxt"
        path.write_text(text_format.MessageToString(net))
        with _chdir(tmp_path):
            test_net = caffe.Net(str(path), caffe.TEST)
            classifier = _learnable(net)[-1].name
            assert test_net.blobs[classifier].data.shape[1] == caffenet.PROFILES[dataset].classes
            if i == 0:
                assert caffe.Net(str(path), caffe.TRAIN).blobs["data"].data.shape[0] > 0


class _chdir:
    def __init__(self, path: Path) -> None:
        self.path, self.old = path, Path.cwd()

    def __enter__(self) -> None:
        import os

        os.chdir(self.path)

    def __exit__(self, *exc) -> None:
        import os

        os.chdir(self.old)


def test_iters_shortens_the_tests_too() -> None:
    from transferability.nets.solver import SHORT_TEST_BATCHES, shorten

    for dataset, batches in (("imagenet", SHORT_TEST_BATCHES), ("fashion-mnist", 50)):
        s = text_format.Parse((REPO_ROOT / f"solvers/{dataset}/split0/A3B.prototxt").read_text(),
                              caffe_pb2.SolverParameter())
        short = shorten(s, 2)
        assert (short.max_iter, short.test_iter[0]) == (2, batches)
        assert short.test_interval >= 1 and s.test_iter[0] >= batches

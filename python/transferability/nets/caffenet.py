"""The one definition of the architecture: Caffe's "CaffeNet" and its scaled Fashion-MNIST profile.

A Profile holds every number that differs between the paper's ImageNet net and the scaled net; the
layer sequence (conv, relu, pool, norm; pool before LRN, unlike AlexNet) is written once, in
`train_val`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transferability.caffe_io import caffe_pb2
from transferability.plan import layout
from transferability.plan.datasets import DATASETS, Dataset, dataset

LEARNABLE = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
DEPTH = len(LEARNABLE)  # CaffeNet's learnable layers: five convolutional, three fully connected


@dataclass(frozen=True)
class Conv:
    num_output: int
    kernel: int
    stride: int
    pad: int
    group: int
    bias: float  # constant bias filler


@dataclass(frozen=True)
class Profile:
    """Every size and filler of one dataset's CaffeNet; its input and classes are the dataset's."""

    convs: tuple[Conv, ...]      # CaffeNet's five; the factors grid's sources have 4 or 6
    fc: tuple[int, int]          # the two hidden fully connected layers' widths (fc6, fc7)
    train_batch: int
    val_batch: int
    # (type, std of conv and fc8, std of fc6 and fc7); xavier takes no std
    weight_filler: tuple[str, float, float]
    scale: float | None          # transform_param.scale, None for raw 0..255 minus the mean
    fc_bias: float               # constant bias of fc6 and fc7 (fc8's is 0)
    pool_after: tuple[int, ...] = (1, 2, 5)
    norm_after: tuple[int, ...] = (1, 2)
    data: Dataset | None = None  # the dataset it is built for (PROFILES); None in ARCHITECTURES

    @property
    def classes(self) -> int:
        """fc8's outputs in every net of the dataset, halves included."""
        return self.data.classes

    @property
    def crop(self) -> int:
        return self.data.crop

    @property
    def image(self) -> int:
        return self.data.image

    @property
    def channels(self) -> int:
        return self.data.channels


# The paper's CaffeNet (docs/PAPER.md, "Architecture").
CAFFENET = Profile(
    convs=(
        Conv(96, 11, 4, 0, 1, 0.0),
        Conv(256, 5, 1, 2, 2, 1.0),
        Conv(384, 3, 1, 1, 1, 0.0),
        Conv(384, 3, 1, 1, 2, 1.0),
        Conv(256, 3, 1, 1, 2, 1.0),
    ),
    fc=(4096, 4096),
    train_batch=256,
    val_batch=50,
    weight_filler=("gaussian", 0.01, 0.005),
    scale=None,
    fc_bias=1.0,
)

# Scaled for 1x28x28 Fashion-MNIST: the same eight learnable layers, order, kinds, groups, LRN and
# dropout. conv1 is 5x5 stride 2 with no padding, like the paper's 11x11 stride 4 (which shrinks
# 227 to 55): 28 to 12, which leaves conv3-5 on 3x3 maps (CaffeNet's 13x13 are 1/17 of its input).
# Xavier fillers on input scaled by 1/256 and zero biases, because the paper's small gaussians
# learn nothing on raw input here; half the first widths, for the demo's time on 2 cores. What
# each choice measured: BENCHMARKS.md, "Why the scaled profile and schedule are as they are".
SCALED = Profile(
    convs=(
        Conv(16, 5, 2, 0, 1, 0.0),
        Conv(32, 5, 1, 2, 2, 0.0),
        Conv(48, 3, 1, 1, 1, 0.0),
        Conv(48, 3, 1, 1, 2, 0.0),
        Conv(32, 3, 1, 1, 2, 0.0),
    ),
    fc=(128, 128),
    train_batch=64,
    val_batch=100,
    weight_filler=("xavier", 0.0, 0.0),
    scale=1 / 256,
    fc_bias=0.0,
)

ARCHITECTURES = {"caffenet": CAFFENET, "scaled": SCALED}
FITTED = "images"  # the profile a user's own images and ImageNet downsampled get: SCALED fitted
SCALED_CONV1_SIDE = 12  # SCALED's conv1 maps at 28: (28 - 5) // 2 + 1
POOL = 3  # every pooling layer's kernel (stride 2)


def _pooled(side: int) -> int:
    return -(-(side - POOL) // 2) + 1  # Caffe rounds pooled sizes up


def for_images(record: Dataset) -> Profile:
    """SCALED for a user's own images or ImageNet downsampled, as SCALED is CaffeNet for
    Fashion-MNIST's 28 x 28: conv1's stride the one whose maps come closest to SCALED's 12 (the
    smaller on a tie), its kernel 2 x stride + 1 (5x5 stride 2 at 28, as SCALED), no padding; a
    pooling layer after conv1, conv2 and conv5 only where its input is at least its kernel, so
    that no map goes to zero; every width times the description's WIDTH (1 for a built-in
    dataset). At 28 x 28 and WIDTH 1 it is SCALED."""
    side = record.image

    def conv1_side(stride: int) -> int:
        return (side - 2 * stride - 1) // stride + 1

    strides = [s for s in range(1, side // 2 + 1) if conv1_side(s) >= 1]
    stride = min(strides, key=lambda s: (abs(conv1_side(s) - SCALED_CONV1_SIDE), s))
    conv1 = replace(SCALED.convs[0], kernel=2 * stride + 1, stride=stride)
    pools, maps = [], conv1_side(stride)
    for i, conv in enumerate(SCALED.convs, 1):
        if i > 1:
            maps = (maps + 2 * conv.pad - conv.kernel) // conv.stride + 1
        if i in SCALED.pool_after and maps >= POOL:
            pools.append(i)
            maps = _pooled(maps)
    fitted = replace(SCALED, convs=(conv1, *SCALED.convs[1:]), pool_after=tuple(pools),
                     data=record)
    return variant(fitted, record.images.width if record.images else 1.0)


def _scaled(units: int, width: float) -> int:
    return max(2, 2 * round(units * width / 2))  # even: conv2, conv4 and conv5 have 2 groups


def variant(p: Profile, width: float = 1.0, depth: int = DEPTH) -> Profile:
    """The profile with every conv and hidden fc width times `width`, and `depth` learnable
    layers: one conv fewer (CaffeNet's conv4 left out) or more (a second conv4 after it), for
    the factors grid's sources (Azizpour et al. 2014 vary width and depth the same way)."""
    convs = list(p.convs)
    if depth == DEPTH - 1:
        del convs[3]
    elif depth == DEPTH + 1:
        convs.insert(4, convs[3])
    elif depth != DEPTH:
        raise ValueError(f"depth {depth}: only {DEPTH - 1}, {DEPTH} and {DEPTH + 1} are defined")
    convs = [replace(c, num_output=_scaled(c.num_output, width)) for c in convs]
    pools = p.pool_after if depth == DEPTH else (1, 2, len(convs))
    return replace(p, convs=tuple(convs), fc=tuple(_scaled(f, width) for f in p.fc),
                   pool_after=pools)


# Each built-in dataset's CaffeNet: the architecture its record names, for its images and classes.
PROFILES = {name: for_images(d) if d.profile == FITTED
            else replace(ARCHITECTURES[d.profile], data=d) for name, d in DATASETS.items()}


def profile_of(name: str) -> Profile:
    """The CaffeNet of DATASET=name, built-in or a user's own images (registered with the plan)."""
    record = dataset(name)
    return PROFILES[name] if name in PROFILES else for_images(record)


def learnable(p: Profile) -> tuple[str, ...]:
    """The learnable layers' names, counted from the input: conv1..convK, then fc(K+1)..fc(K+3)."""
    k = len(p.convs)
    return (*(f"conv{i}" for i in range(1, k + 1)), *(f"fc{i}" for i in range(k + 1, k + 4)))


def parameter_count(p: Profile) -> int:
    """Learnable floats of the net (weights and biases): a .caffemodel holds 4 bytes of each, and
    a .solverstate as many again (SGD's momentum history)."""
    side, channels, count = p.crop, p.channels, 0
    for i, c in enumerate(p.convs, 1):
        side = (side + 2 * c.pad - c.kernel) // c.stride + 1
        count += c.num_output * (channels // c.group) * c.kernel ** 2 + c.num_output
        channels = c.num_output
        if i in p.pool_after:  # 3x3 stride 2; Caffe rounds pooled sizes up
            side = -(-(side - 3) // 2) + 1
    inputs = channels * side * side
    for width in (*p.fc, p.classes):
        count += inputs * width + width
        inputs = width
    return count


def _params(layer: caffe_pb2.LayerParameter, frozen: bool) -> None:
    for lr, decay in ((0, 0), (0, 0)) if frozen else ((1, 1), (2, 0)):
        layer.param.add(lr_mult=lr, decay_mult=decay)


def _filler(filler: caffe_pb2.FillerParameter, kind: str, std: float) -> None:
    filler.type = kind
    if kind == "gaussian":
        filler.std = std


def _layer(net: caffe_pb2.NetParameter, name: str, kind: str, bottom: str, top: str):
    layer = net.layer.add(name=name, type=kind, top=[top])
    layer.bottom.append(bottom)
    return layer


def _data_layers(net: caffe_pb2.NetParameter, p: Profile, mean_file: str) -> None:
    for phase, source, batch, mirror in (
        (caffe_pb2.TRAIN, layout.TRAIN_LMDB, p.train_batch, True),
        (caffe_pb2.TEST, layout.VAL_LMDB, p.val_batch, False),
    ):
        layer = net.layer.add(name="data", type="Data", top=["data", "label"])
        layer.include.add(phase=phase)
        layer.transform_param.mirror = mirror
        layer.transform_param.crop_size = p.crop
        layer.transform_param.mean_file = mean_file
        if p.scale is not None:
            layer.transform_param.scale = p.scale
        layer.data_param.source = source
        layer.data_param.batch_size = batch
        layer.data_param.backend = caffe_pb2.DataParameter.LMDB


def _conv_block(net, p: Profile, i: int, bottom: str, frozen: bool) -> str:
    c = p.convs[i - 1]
    name = f"conv{i}"
    layer = _layer(net, name, "Convolution", bottom, name)
    _params(layer, frozen)
    cp = layer.convolution_param
    cp.num_output, cp.group = c.num_output, c.group
    cp.kernel_size.append(c.kernel)
    if c.stride != 1:
        cp.stride.append(c.stride)
    if c.pad:
        cp.pad.append(c.pad)
    _filler(cp.weight_filler, p.weight_filler[0], p.weight_filler[1])
    cp.bias_filler.type, cp.bias_filler.value = "constant", c.bias
    _layer(net, f"relu{i}", "ReLU", name, name)
    top = name
    if i in p.pool_after:
        pool = _layer(net, f"pool{i}", "Pooling", top, f"pool{i}")
        pool.pooling_param.pool = caffe_pb2.PoolingParameter.MAX
        pool.pooling_param.kernel_size, pool.pooling_param.stride = 3, 2
        top = f"pool{i}"
    if i in p.norm_after:
        norm = _layer(net, f"norm{i}", "LRN", top, f"norm{i}")
        lp = norm.lrn_param
        lp.local_size, lp.alpha, lp.beta = 5, 0.0001, 0.75
        top = f"norm{i}"
    return top


def _fc_block(net, p: Profile, i: int, bottom: str, frozen: bool) -> str:
    name, hidden = f"fc{i}", i - len(p.convs) - 1  # 0, 1: fc6, fc7; 2: the classifier, fc8
    layer = _layer(net, name, "InnerProduct", bottom, name)
    _params(layer, frozen)
    ip = layer.inner_product_param
    ip.num_output = p.fc[hidden] if hidden < 2 else p.classes
    std = p.weight_filler[2] if hidden < 2 else p.weight_filler[1]
    _filler(ip.weight_filler, p.weight_filler[0], std)
    ip.bias_filler.type, ip.bias_filler.value = "constant", p.fc_bias if hidden < 2 else 0.0
    if hidden < 2:
        _layer(net, f"relu{i}", "ReLU", name, name)
        drop = _layer(net, f"drop{i}", "Dropout", name, name)
        drop.dropout_param.dropout_ratio = 0.5
    return name


def train_val(profile: Profile, name: str, frozen: int = 0,
              mean_file: str = layout.MEAN) -> caffe_pb2.NetParameter:
    """The train_val net with the first `frozen` learnable layers at lr_mult 0, decay_mult 0."""
    net = caffe_pb2.NetParameter(name=name)
    _data_layers(net, profile, mean_file)
    top, k = "data", len(profile.convs)
    for i in range(1, k + 1):
        top = _conv_block(net, profile, i, top, frozen >= i)
    for i in range(k + 1, k + 4):
        top = _fc_block(net, profile, i, top, frozen >= i)
    acc = net.layer.add(name="accuracy", type="Accuracy", bottom=[top, "label"], top=["accuracy"])
    acc.include.add(phase=caffe_pb2.TEST)
    net.layer.add(name="loss", type="SoftmaxWithLoss", bottom=[top, "label"], top=["loss"])
    return net

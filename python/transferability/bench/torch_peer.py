"""PyTorch's training step of a net described as JSON, for `make bench-cpu` to time beside Caffe.

Run by a Python that has torch (a throwaway venv: torch is no dependency of the project):

    python torch_peer.py SPEC.json THREADS ITERATIONS

SPEC.json: {"batch": 64, "input": [C, H, W], "classes": 10, "momentum": 0.9, "weight_decay": ...,
"layers": [...]}, the layers as `bench.cpu.torch_spec` writes them from the Caffe prototxt. Prints
one line of JSON: {"step_ms": ..., "threads": ...}, the mean over ITERATIONS after a warm-up
(a tenth as many steps, from 1 to 10).
"""

import json
import sys
import time

import torch
from torch import nn


def build(spec: dict) -> nn.Module:
    layers = []
    channels = spec["input"][0]
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "Convolution":
            layers.append(nn.Conv2d(channels, layer["num_output"], layer["kernel"],
                                    stride=layer["stride"], padding=layer["pad"],
                                    groups=layer["group"]))
            channels = layer["num_output"]
        elif kind == "ReLU":
            layers.append(nn.ReLU(inplace=True))
        elif kind == "Pooling":
            pool = nn.MaxPool2d if layer["pool"] == "MAX" else nn.AvgPool2d
            layers.append(pool(layer["kernel"], layer["stride"], padding=layer["pad"],
                               ceil_mode=True))
        elif kind == "LRN":
            layers.append(nn.LocalResponseNorm(layer["local_size"], alpha=layer["alpha"],
                                               beta=layer["beta"], k=layer["k"]))
        elif kind == "InnerProduct":
            layers.append(nn.Flatten())
            layers.append(nn.LazyLinear(layer["num_output"]))
        elif kind == "Dropout":
            layers.append(nn.Dropout(layer["ratio"]))
        else:
            raise SystemExit(f"torch_peer: no PyTorch peer for a {kind} layer")
    return nn.Sequential(*layers)


def main() -> None:
    spec_path, threads, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    spec = json.loads(open(spec_path).read())
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build(spec)
    images = torch.rand(spec["batch"], *spec["input"])
    labels = torch.randint(0, spec["classes"], (spec["batch"],))
    net(images)  # the lazy layers take their shapes
    optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=spec["momentum"],
                                weight_decay=spec["weight_decay"])
    loss_of = nn.CrossEntropyLoss()

    def step() -> None:
        optimiser.zero_grad(set_to_none=False)
        loss_of(net(images), labels).backward()
        optimiser.step()

    for _ in range(max(1, min(10, iterations // 10))):  # CaffeNet's few iterations: one
        step()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    elapsed = time.perf_counter() - start
    print(json.dumps({"step_ms": 1000 * elapsed / iterations, "threads": threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()

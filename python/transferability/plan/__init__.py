"""The experiment plan: every network, what it trains on and where its weights come from.

This package is the project's one definition of the experiment's vocabulary; prototxt, solvers,
run folders, make targets and result tables are all generated from it. Here: the networks and the
data sets they train on; `datasets` (each dataset's facts), `layout` (where everything lies on
disk), `selections` (the plans a user names: paper, figure2, demo) and `makerules` (the make rules
and value lists, for the Makefile). Standard library only: the Makefile reads the plan before the
venv exists.

Names: in group `splitS` (S = 0..3) or `natman`, `baseA`/`baseB` are the base nets of half A/B;
`XnY` copies the first n layers of baseX and trains on half Y with them frozen, `XnY+` fine-tunes
them. Group `whole` has `base` (all classes) and `randomN` (N random layers frozen); group
`reduced` has `reducedNNNN` (the first NNNN images of each class). Group `factors` (Fashion-MNIST
only) has the factors grid's sources `wW-dD`: split0's half A learnt by a net of W times the
scaled CaffeNet's width and D learnable layers (CaffeNet's W = 1, D = 8 is split0/baseA itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transferability.errors import UserError
from transferability.plan.datasets import DATASETS as DATASETS  # by name, in plan order
from transferability.plan.datasets import Dataset

SPLITS = ("0", "1", "2", "3", "natman")
HALVES = ("A", "B")
LAYERS = 7  # n runs over 1..7: the 8th learnable layer (fc8) is always trained from scratch
REDUCED_PER_CLASS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300)
# Replicates of baseB with other seeds measure the seed-to-seed spread (not in the paper, which
# reports no noise): `baseB-seed1`, `baseB-seed2`.
NOISE_SEEDS = (1, 2)



@dataclass(frozen=True)
class Net:
    """One network of the plan."""

    group: str          # split0..split3, natman, whole, reduced
    name: str           # baseA, A3B, A3B+, base, random3, reduced0010
    train_set: str      # the paper's dataset name: half0B, halfnatmanA, whole, reduced0010
    valid_set: str
    source: str | None  # the base net (same group) whose first n layers are copied
    n: int              # layers copied (transfers) or left random (randomN); 0 for a base net
    frozen: bool        # whether those n layers keep lr_mult 0
    reduced: bool       # uses the reduced-data solver numbers
    seed: int = 0       # > 0: a replicate of a base net with another solver seed (noise runs)
    width: float = 1.0  # times the dataset's CaffeNet widths (factors grid sources)
    depth: int = 8      # learnable layers (factors grid sources: 7, 8 or 9)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def source_key(self) -> str | None:
        return f"{self.group}/{self.source}" if self.source else None

    @property
    def source_half(self) -> str | None:
        return self.source[-1] if self.source else None

    @property
    def target_half(self) -> str | None:
        return self.train_set[-1] if self.group.startswith(("split", "natman")) else None


def check_iters(iters: int | None) -> None:
    """ITERS=k shortens every solver to k iterations: a user error unless k is positive."""
    if iters is not None and iters < 1:
        raise UserError(f"ITERS must be a positive integer, not {iters}")


def group_of_split(split: str) -> str:
    """`0` -> `split0`, `natman` -> `natman`; anything else is a user error."""
    if split not in SPLITS:
        raise UserError(f"unknown SPLIT '{split}': expected one of {', '.join(SPLITS)}")
    return "natman" if split == "natman" else f"split{split}"


def _half_set(group: str, half: str) -> str:
    return f"half{group.removeprefix('split')}{half}"


def base_net(group: str, half: str) -> Net:
    data = _half_set(group, half)
    return Net(group, f"base{half}", data, data, None, 0, False, False)


def noise_nets(group: str) -> list[Net]:
    """baseB of the group again with each of NOISE_SEEDS: the spread of a base net's accuracy."""
    data = _half_set(group, "B")
    return [Net(group, f"baseB-seed{seed}", data, data, None, 0, False, False, seed)
            for seed in NOISE_SEEDS]


def transfer_net(group: str, source: str, n: int, target: str, fine_tuned: bool) -> Net:
    data = _half_set(group, target)
    name = f"{source}{n}{target}{'+' if fine_tuned else ''}"
    return Net(group, name, data, data, f"base{source}", n, not fine_tuned, False)


def split_nets(group: str) -> list[Net]:
    """baseA, baseB and, for n = 1..7, every source/target/frozen/fine-tuned combination."""
    nets = [base_net(group, h) for h in HALVES]
    for n in range(1, LAYERS + 1):
        for source in HALVES:
            for target in HALVES:
                for fine_tuned in (False, True):
                    nets.append(transfer_net(group, source, n, target, fine_tuned))
    return nets


def whole_nets() -> list[Net]:
    nets = [Net("whole", "base", "whole", "whole", None, 0, False, False)]
    nets += [Net("whole", f"random{n}", "whole", "whole", None, n, True, False)
             for n in range(1, LAYERS + 1)]
    return nets


def reduced_name(per_class: int) -> str:
    return f"reduced{per_class:04d}"


def reduced_nets() -> list[Net]:
    return [Net("reduced", reduced_name(k), reduced_name(k), "whole", None, 0, False, True)
            for k in REDUCED_PER_CLASS]


# The data sets (subsets of a dataset) the nets train and validate on, as data_prep builds them.
RANDOM_SPLITS = tuple(int(s) for s in SPLITS if s.isdigit())  # the seeds of the random splits
HALF_SETS = tuple(_half_set(group_of_split(s), h) for s in SPLITS for h in HALVES)
REDUCED_SETS = tuple(reduced_name(k) for k in REDUCED_PER_CLASS)
DATA_SETS = ("whole", *HALF_SETS, *REDUCED_SETS)


def all_nets() -> list[Net]:
    """The complete plan: every combination, a superset of the paper's 170."""
    nets: list[Net] = []
    for split in SPLITS:
        nets += split_nets(group_of_split(split)) + noise_nets(group_of_split(split))
    return nets + whole_nets() + reduced_nets()


# The factors grid (Azizpour et al. 2014): sources of three widths and three depths on one half.
FACTOR_WIDTHS = (0.5, 1.0, 2.0)
FACTOR_DEPTHS = (7, 8, 9)
FACTOR_DATASET, FACTOR_GROUP, FACTOR_HALF = "fashion-mnist", "split0", "A"
FACTOR_NETS = "factors"  # the group of the grid's own sources (RUNS/fashion-mnist/factors/)


def factor_name(width: float, depth: int, seed: int = 0) -> str:
    """`w0.5-d7`, `w2-d9`, `w1-d8-seed1`."""
    return f"w{width:g}-d{depth}" + (f"-seed{seed}" if seed else "")


def factor_source(width: float, depth: int, seed: int = 0) -> Net:
    """The grid's source of that width, depth and seed: split0/baseA for CaffeNet's own."""
    if (width, depth, seed) == (1.0, 8, 0):
        return base_net(FACTOR_GROUP, FACTOR_HALF)
    data = _half_set(FACTOR_GROUP, FACTOR_HALF)
    return Net(FACTOR_NETS, factor_name(width, depth, seed), data, data, None, 0, False, False,
               seed, width, depth)


def factor_sources() -> list[Net]:
    """Every source of the grid, CaffeNet's own with a second seed (the grid's noise)."""
    nets = [factor_source(w, d) for d in FACTOR_DEPTHS for w in FACTOR_WIDTHS]
    return nets + [factor_source(1.0, 8, NOISE_SEEDS[0])]


def factor_nets() -> list[Net]:
    """The factors grid's own nets (the sources other than split0/baseA)."""
    return [net for net in factor_sources() if net.group == FACTOR_NETS]


def known_nets() -> list[Net]:
    """Every net a run folder can hold: the plan's and the factors grid's own sources."""
    return all_nets() + factor_nets()


def nets_with_data(record: Dataset, nets: list[Net]) -> list[Net]:
    """Those of `nets` that the dataset has data sets for: a user's own images may have no
    natman halves and fewer reduced sets (Dataset.lacks)."""
    return [net for net in nets if not record.lacks(net.train_set)]


def splits_with_data(record: Dataset) -> list[str]:
    return [s for s in SPLITS if not record.lacks(base_net(group_of_split(s), "A").train_set)]


def per_class_with_data(record: Dataset) -> list[int]:
    return [n for n in REDUCED_PER_CLASS if not record.lacks(reduced_name(n))]


def _in_paper(net: Net) -> bool:
    if net.seed:
        return False
    if net.group in ("whole", "reduced") or net.n == 0:
        return True
    source, target, plus = net.source_half, net.target_half, net.name.endswith("+")
    if net.group == "natman":
        return source != target and not plus
    if source == "B" and target == "B":
        return False  # the authors' selffer is AnA
    return not plus or net.group in ("split0", "split1")


def paper_nets() -> list[Net]:
    """The paper's 170 networks, bases before the transfers that need them."""
    nets = [net for net in all_nets() if _in_paper(net)]
    return sorted(nets, key=lambda net: net.source is not None)


def figure2_nets(split: str = "0") -> list[Net]:
    """Figure 2's 30 networks: baseA, baseB and, for each n, AnB, AnB+, BnB, BnB+."""
    group = group_of_split(split)
    keep = re.compile(r"^(base[AB]|[AB][1-7]B\+?)$")
    return [net for net in split_nets(group) if keep.match(net.name)]


def find(key: str) -> Net:
    """The net named `group/name`; a user error when the plan has none."""
    for net in known_nets():
        if net.key == key:
            return net
    raise UserError(f"no network '{key}' in the plan")


def paper_name(net: Net) -> str:
    """The name the authors' published results use for the same network."""
    if net.group == "whole":
        return "netbase" if net.name == "base" else f"nolearn_1_{net.n}"
    if net.group == "reduced":
        return f"reduced-{net.name.removeprefix('reduced')}"
    if net.group == FACTOR_NETS:
        return ""  # the factors grid's sources: not in the first paper
    split = net.group.removeprefix("split")
    if net.seed:
        return f"half{split}B-seed{net.seed}"  # not the paper's: it ran no replicates
    if net.n == 0:
        return f"half{split}{net.name[-1]}"
    prefix = "transfer-ft" if net.name.endswith("+") else "transfer"
    if net.group == "natman":
        return f"{prefix}natman{net.source_half}{net.target_half}_1_{net.n}"
    return f"{prefix}{split}{net.source_half}{split}{net.target_half}_1_{net.n}"

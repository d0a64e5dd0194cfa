"""The experiment plan: every network, what it trains on and where its weights come from.

This is the project's one definition of the plan; prototxt, solvers, run folders, make targets and
result tables are all generated from it.

Names: in group `splitS` (S = 0..3) or `natman`, `baseA`/`baseB` are the base nets of half A/B;
`XnY` copies the first n layers of baseX and trains on half Y with them frozen, `XnY+` fine-tunes
them. Group `whole` has `base` (all classes) and `randomN` (N random layers frozen); group
`reduced` has `reducedNNNN` (the first NNNN images of each class).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transferability.errors import UserError

DATASETS = ("imagenet", "fashion-mnist")
SPLITS = ("0", "1", "2", "3", "natman")
HALVES = ("A", "B")
LAYERS = 7  # n runs over 1..7: the 8th learnable layer (fc8) is always trained from scratch
REDUCED_PER_CLASS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300)

_TRANSFER = re.compile(r"^([AB])([1-7])([AB])(\+?)$")


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


def all_nets() -> list[Net]:
    """The complete plan: every combination, a superset of the paper's 170."""
    nets: list[Net] = []
    for split in SPLITS:
        nets += split_nets(group_of_split(split))
    return nets + whole_nets() + reduced_nets()


def _in_paper(net: Net) -> bool:
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
    for net in all_nets():
        if net.key == key:
            return net
    raise UserError(f"no network '{key}' in the plan")


def paper_name(net: Net) -> str:
    """The name the authors' published results use for the same network."""
    if net.group == "whole":
        return "netbase" if net.name == "base" else f"nolearn_1_{net.n}"
    if net.group == "reduced":
        return f"reduced-{net.name.removeprefix('reduced')}"
    split = net.group.removeprefix("split")
    if net.n == 0:
        return f"half{split}{net.name[-1]}"
    prefix = "transfer-ft" if net.name.endswith("+") else "transfer"
    if net.group == "natman":
        return f"{prefix}natman{net.source_half}{net.target_half}_1_{net.n}"
    return f"{prefix}{split}{net.source_half}{split}{net.target_half}_1_{net.n}"


def parse_name(name: str) -> tuple[str, int, str, bool] | None:
    """`A3B+` -> ('A', 3, 'B', True); None for a name that is not a transfer."""
    match = _TRANSFER.match(name)
    if not match:
        return None
    return match[1], int(match[2]), match[3], match[4] == "+"

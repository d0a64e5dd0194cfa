"""The datasets the plan runs on, one record each: every fact of a dataset that code asks for.

The architecture (nets/caffenet.py) and the solver schedules (nets/solver.py) are chosen by name
from here; a new dataset (issue 26: a user's own image folders) is one more record in DATASETS.
"""

from __future__ import annotations

from dataclasses import dataclass

from transferability.errors import UserError


@dataclass(frozen=True)
class Dataset:
    """One dataset's facts."""

    name: str                     # as DATASET= and the folders under DATA and RUNS spell it
    classes: int                  # of the whole set: fc8's outputs in every net, halves included
    natman: tuple[int, int]       # classes of halfnatmanA and halfnatmanB
    natman_names: tuple[str, str] | None  # what the natman halves are, where they have a meaning
    image: int                    # side of the stored (square) image
    crop: int                     # square crop of it, random in TRAIN, centre in TEST
    channels: int                 # of the stored image
    train_images_per_half: int    # of a random split's half: schedules stated in epochs
    val_per_class: int | None     # validation images a class, where a test is one pass over
    # them (None: the schedule's own test_iter)
    profile: str                  # the CaffeNet profile (caffenet.PROFILES)
    schedules: str                # the standard and reduced-data solvers (solver.SCHEDULES)

    def classes_in(self, data_set: str) -> int:
        """Classes a data set of the plan holds (`whole`, `half0A`, `halfnatmanB`, ...)."""
        if data_set.startswith("halfnatman"):
            return self.natman[data_set.endswith("B")]
        return self.classes // 2 if data_set.startswith("half") else self.classes


IMAGENET = Dataset(
    name="imagenet", classes=1000, natman=(449, 551), natman_names=("natural", "man-made"),
    image=256, crop=227, channels=3, train_images_per_half=1_281_167 // 2, val_per_class=None,
    profile="caffenet", schedules="paper",
)
# Fashion-MNIST's natman halves are its own (data/splits.py): 6 and 4 of the 10 classes. Its crop
# is the whole image: an item fills its 28x28, and a 24-pixel crop cut it (BENCHMARKS.md).
FASHION_MNIST = Dataset(
    name="fashion-mnist", classes=10, natman=(6, 4), natman_names=None,
    image=28, crop=28, channels=1, train_images_per_half=30_000, val_per_class=1000,
    profile="scaled", schedules="scaled",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (IMAGENET, FASHION_MNIST)}


def dataset(name: str) -> Dataset:
    """The record of DATASET=name; a user error for a name the plan does not know."""
    if name not in DATASETS:
        raise UserError(f"unknown DATASET '{name}': use {' or '.join(DATASETS)}")
    return DATASETS[name]

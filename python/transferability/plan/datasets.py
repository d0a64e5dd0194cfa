"""The datasets the plan runs on, one record each: every fact of a dataset that code asks for.

The architecture (nets/caffenet.py) and the solver schedules (nets/solver.py) are chosen by name
from here. DATASETS holds the built-in ones; a user's own images (`make data DATASET=<name>
IMAGES=...`) are one more record, read from the description the data step writes
(DATA/<name>/dataset.json, plan/own.py) and registered before anything asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from transferability.errors import UserError


@dataclass(frozen=True)
class Images:
    """A user's own images, as their data step found them."""

    root: str                          # IMAGES
    halves_file: str                   # HALVES, or ""
    class_names: tuple[str, ...]       # the class folders, in label order
    train: tuple[int, ...]             # training images of each class
    valid: tuple[int, ...]             # validation images of each class
    halves: tuple[tuple[str, tuple[int, ...]], ...]  # each half's classes, by data set name
    width: float                       # WIDTH: times the scaled CaffeNet's widths
    epochs: float                      # EPOCHS: of a half's training set, in all
    statements: tuple[tuple[str, str], ...]  # what the data step chose and how, for the report

    def classes_of(self, data_set: str) -> tuple[int, ...]:
        return dict(self.halves).get(data_set, tuple(range(len(self.class_names))))

    def names_of(self, data_set: str) -> tuple[str, ...]:
        """The class folders of a data set (a half: half0A, ...), as they are named."""
        return tuple(self.class_names[label] for label in self.classes_of(data_set))


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
    profile: str                  # the CaffeNet profile (caffenet.ARCHITECTURES, or "images")
    schedules: str                # the standard and reduced-data solvers (solver.SCHEDULES)
    images: Images | None = None  # a user's own images; None for a built-in dataset
    full_size: str | None = None  # the dataset this one is downsampled from (imagenet32: imagenet)
    epochs: float = 0.0           # a schedule in epochs (solver.in_epochs): of a half, in all

    def classes_in(self, data_set: str) -> int:
        """Classes a data set of the plan holds (`whole`, `half0A`, `halfnatmanB`, ...)."""
        if self.images is not None:
            return len(self.images.classes_of(data_set))
        if data_set.startswith("halfnatman"):
            return self.natman[data_set.endswith("B")]
        return self.classes // 2 if data_set.startswith("half") else self.classes

    def val_images(self, data_set: str) -> int | None:
        """Validation images of a data set (None where the schedule gives its own test_iter)."""
        if self.images is not None:
            return sum(self.images.valid[c] for c in self.images.classes_of(data_set))
        return None if self.val_per_class is None else self.classes_in(data_set) * \
            self.val_per_class

    def lacks(self, data_set: str) -> str | None:
        """Why the dataset has no such data set (a user's images without a HALVES file have no
        natman halves, and reduced sets only up to their smallest class), or None."""
        if self.images is None or data_set == "whole" or data_set in dict(self.images.halves):
            return None
        if data_set.startswith("halfnatman"):
            return (f"{self.name} has no natman split: there is no WordNet for your classes, so "
                    "give make data a HALVES=file naming the classes of half A")
        per_class = data_set.removeprefix("reduced")
        if per_class.isdigit() and int(per_class) <= min(self.images.train):
            return None
        return (f"{self.name} has no {data_set}: its smallest class has "
                f"{min(self.images.train)} training images")


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

# ImageNet downsampled (Chrabaszcz, Loshchilov and Hutter 2017): the same 1000 classes, lists and
# splits, each image's short side resized to SIZE and its centre cut square (data_prep/data.mk),
# the whole image fed to the scaled CaffeNet fitted to that size, 50 validation images a class.
# EPOCHS: docs/IMAGENET.md, "ImageNet at 32 or 64 pixels" says why 40, and how to confirm them.
DOWNSAMPLED_SIZES = (32, 64)
DOWNSAMPLED_EPOCHS = 40.0
DOWNSAMPLED = tuple(
    Dataset(name=f"imagenet{size}", classes=IMAGENET.classes, natman=IMAGENET.natman,
            natman_names=IMAGENET.natman_names, image=size, crop=size, channels=3,
            train_images_per_half=IMAGENET.train_images_per_half, val_per_class=50,
            profile="images", schedules="images", full_size=IMAGENET.name,
            epochs=DOWNSAMPLED_EPOCHS)
    for size in DOWNSAMPLED_SIZES)

DATASETS: dict[str, Dataset] = {d.name: d for d in (IMAGENET, FASHION_MNIST, *DOWNSAMPLED)}
_OWN: dict[str, Dataset] = {}  # a user's own images, registered from their description


def register(record: Dataset) -> Dataset:
    """Make a user's own dataset known to the plan (plan/own.py reads it from its description)."""
    _OWN[record.name] = record
    return record


def known() -> dict[str, Dataset]:
    """The built-in datasets, then the user's own ones registered so far."""
    return {**DATASETS, **_OWN}


def dataset(name: str) -> Dataset:
    """The record of DATASET=name; a user error for a name the plan does not know."""
    record = known().get(name)
    if record is None:
        raise UserError(f"unknown DATASET '{name}': use {' or '.join(DATASETS)}, or your own "
                        f"images (make data DATASET={name} IMAGES=/path/to/images)")
    return record

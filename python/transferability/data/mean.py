"""The mean image of an LMDB of Datum, written as Caffe's `compute_image_mean` writes it.

compute_image_mean sums every record into float32 one record at a time, then divides by the
count in float32; doing the same here gives the same floats (not only close ones), streaming.
The LMDB writers feed the same accumulator while they write, which saves a pass over the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from transferability.caffe_io import datum_array, decode_datum
from transferability.data.lmdb_io import entry_count, iter_values
from transferability.data.progress import bar
from transferability.errors import UserError


class MeanAccumulator:
    """Serialized Datums in, in key order; their mean image out."""

    def __init__(self, name: str = "the database") -> None:
        self.name = name
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, value: bytes | memoryview) -> None:
        pixels = datum_array(decode_datum(value))
        if self.total is None:
            self.total = np.zeros(pixels.shape, np.float32)
        elif pixels.shape != self.total.shape:
            raise UserError(f"record {self.count} of {self.name} is {pixels.shape}, "
                            f"not {self.total.shape}")
        np.add(self.total, pixels, out=self.total, casting="unsafe")
        self.count += 1

    def mean(self) -> np.ndarray:
        """Float32, shape (1, C, H, W)."""
        if self.total is None:
            raise UserError(f"{self.name} is empty")
        return (self.total / np.float32(self.count))[None].astype(np.float32)


def compute_mean(db: str | Path, progress: bool = True) -> np.ndarray:
    """Float32 mean image of an LMDB, shape (1, C, H, W)."""
    accumulator = MeanAccumulator(f"'{db}'")
    for value in bar(iter_values(db), progress, f"mean {Path(db).name}", entry_count(db), "rec"):
        accumulator.add(value)
    return accumulator.mean()

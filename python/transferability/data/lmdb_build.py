"""An LMDB of Datum from an image list: the job of Caffe's `convert_imageset`, decoded in parallel.

Same output as `convert_imageset [--resize_height H --resize_width W] [--encoded] [--gray] ROOT
LIST DB`: keys `%08d_<path>` with the list's line index, OpenCV's imread (BGR, or grey with
`gray`) and resize (INTER_LINEAR), raw uint8 CHW Datum. Unlike it, an unreadable image is an
error unless `skip_bad` is set, and so is a truncated JPEG or PNG, which OpenCV decodes
grey-filled with only libjpeg's warning. `short_side` (ImageNet downsampled) resizes instead
each image's shorter side to the size with OpenCV's INTER_AREA (the pixel-area average, a box
filter when shrinking) and keeps its centre square.
"""

from __future__ import annotations

import ctypes
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from transferability.caffe_io import encode_encoded_datum, encode_raw_datum, write_mean
from transferability.data.lists import Entry
from transferability.data.lmdb_io import LmdbWriter
from transferability.data.mean import MeanAccumulator
from transferability.data.progress import bar
from transferability.disk import write_text
from transferability.errors import UserError

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # we report unreadable images


class BadImage(str):
    """Why an image was not stored: the loader's answer in place of a record."""


def image_datum(path: str, label: int, size: tuple[int, int] | None, encoded: bool) -> bytes | None:
    """The serialized Datum of one image, or None when OpenCV cannot read it."""
    value = checked_datum(path, label, size, encoded)
    return None if isinstance(value, BadImage) else value


def checked_datum(path: str, label: int, size: tuple[int, int] | None,
                  encoded: bool, gray: bool = False, short_side: bool = False) -> bytes | BadImage:
    """The serialized Datum of one image, or why there is none."""
    try:
        problem = cut_short(path)
        if problem:
            return BadImage(problem)
        value = _image_datum(path, label, size, encoded, gray, short_side)
    except cv2.error:
        value = None
    except OSError as err:
        return BadImage(err.strerror or str(err))
    return BadImage("OpenCV cannot decode it") if value is None else value


_JPEG, _PNG = b"\xff\xd8", b"\x89PNG\r\n\x1a\n"
_TAIL = 1 << 16


def cut_short(path: str) -> str | None:
    """Why a JPEG or PNG file ends before its image does, or None. In a JPEG, 0xFF in the coded
    data is always followed by 0x00 or a restart marker, so the end-of-image marker (FFD9) can only
    follow the last start-of-scan (FFDA) when the file is whole; a thumbnail's own markers come
    before the main image's scan. A PNG ends with its IEND chunk (trailing bytes allowed)."""
    with open(path, "rb") as file:
        head = file.read(8)
        file.seek(0, os.SEEK_END)
        size = file.tell()
        if head.startswith(_JPEG):
            file.seek(0)
            data = file.read()
            scan = data.rfind(b"\xff\xda")
            if scan < 0 or data.rfind(b"\xff\xd9") < scan:
                return "truncated JPEG (no end-of-image marker after its last scan)"
        elif head == _PNG:
            file.seek(max(0, size - _TAIL))
            if b"IEND" not in file.read():
                return "truncated PNG (no IEND chunk)"
    return None


def _image_datum(path: str, label: int, size: tuple[int, int] | None,
                 encoded: bool, gray: bool = False, short_side: bool = False) -> bytes | None:
    if encoded and size is None:
        return _file_datum(path, label)
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if image is None:
        return None
    if size is not None and short_side:
        image = centre_square(image, size[0])
    elif size is not None:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    if encoded:
        ok, buf = cv2.imencode("." + path.rsplit(".", 1)[-1].lower(), image)
        return encode_encoded_datum(buf.tobytes(), label) if ok else None
    if image.ndim == 2:  # grey: one channel
        image = image[:, :, np.newaxis]
    height, width, channels = image.shape
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))
    return encode_raw_datum(chw.data, label, channels, height, width)


def centre_square(image: np.ndarray, side: int) -> np.ndarray:
    """The image with its shorter side resized to `side` (INTER_AREA), cut to its centre square."""
    height, width = image.shape[:2]
    scale = side / min(height, width)
    new_h, new_w = max(side, round(height * scale)), max(side, round(width * scale))
    image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    top, left = (new_h - side) // 2, (new_w - side) // 2
    return np.ascontiguousarray(image[top:top + side, left:left + side])


def _file_datum(path: str, label: int) -> bytes | None:
    # convert_imageset --encoded without resizing stores the file's bytes once OpenCV reads it.
    if cv2.imread(path, cv2.IMREAD_COLOR) is None:
        return None
    with open(path, "rb") as file:
        return encode_encoded_datum(file.read(), label)


def keep_freed_memory() -> None:
    """Ask glibc to keep freed image buffers (about 0.5 MB each) instead of unmapping them.

    Otherwise every decoded image is a fresh mmap, and the page faults on it cost as much system
    time as decoding costs user time. Harmless elsewhere: without glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    except (OSError, AttributeError):
        pass


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def missing_files(root: str, entries: Sequence[Entry]) -> Iterator[tuple[int, str]]:
    for n, (path, _) in enumerate(entries, 1):
        if not os.path.isfile(root + path):
            yield n, path


SKIP_HINT = "pass SKIP_BAD_IMAGES=1 to make data (--skip-bad) to leave such images out"
STALE_HINT = ("; the folder changed after the list was made? make data lists it again when a "
              "folder changes (or remove DATA/imagenet/lists.done)")


def build(root: str | Path, entries: Sequence[Entry], db: str | Path, *,
          size: tuple[int, int] | None = (256, 256), workers: int = 2, encoded: bool = False,
          skip_bad: bool = False, force: bool = False, progress: bool = True,
          mean: str | Path | None = None, gray: bool = False,
          short_side: bool = False) -> list[tuple[int, str]]:
    """Write the LMDB (and its mean image to `mean`, in the same pass, when given).

    Returns the (1-based) list lines skipped as unreadable or cut short, each with why
    (skip_bad only).
    """
    root = os.path.join(str(root), "")  # convert_imageset concatenates ROOT and the path
    keep_freed_memory()
    skipped: list[tuple[int, str]] = []
    if not skip_bad:
        for n, path in missing_files(root, entries):
            raise UserError(f"cannot read image '{root + path}' (list line {n}): no such file"
                            f"{STALE_HINT}")
    accumulator = MeanAccumulator(f"'{db}'") if mean else None
    with LmdbWriter(db, force=force, records=len(entries)) as writer:
        load = _loader(root, size, encoded, gray, short_side)
        values = ordered_map(load, entries, workers)
        rows = bar(zip(entries, values, strict=True), progress, Path(db).name, total=len(entries))
        for n, ((path, _), value) in enumerate(rows, 1):
            if isinstance(value, BadImage):
                if not skip_bad:
                    raise UserError(f"cannot read image '{root + path}' (list line {n}): "
                                    f"{value}; {SKIP_HINT}")
                skipped.append((n, str(value)))
                continue
            writer.put(f"{n - 1:08d}_{path}".encode(), value)
            if accumulator:
                accumulator.add(value)
    if accumulator:
        write_mean(mean, accumulator.mean())
    return skipped


def write_report(path: str | Path, skipped: Sequence[tuple[str, str]]) -> None:
    """The skipped images, `path<TAB>why` a line; no file when there were none."""
    if skipped:
        write_text(Path(path), "".join(f"{name}\t{why}\n" for name, why in skipped))
    else:
        Path(path).unlink(missing_ok=True)


def read_report(path: str | Path) -> set[str]:
    """The image paths of a write_report file (none when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return set()
    return {line.split("\t", 1)[0] for line in path.read_text().splitlines() if line}


def _loader(root: str, size: tuple[int, int] | None, encoded: bool, gray: bool = False,
            short_side: bool = False) -> Callable[[Entry], bytes | BadImage]:
    def load(entry: Entry) -> bytes | BadImage:
        return checked_datum(root + entry[0], entry[1], size, encoded, gray, short_side)
    return load


def ordered_map(fn: Callable, items: Iterable, workers: int, window: int = 64) -> Iterator:
    """fn over items on `workers` threads (OpenCV releases the GIL), results in input order."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers) as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

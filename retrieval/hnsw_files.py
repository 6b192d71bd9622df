"""The bytes of an hnswlib index file, read and patched in place: where a label's vector and delete mark live, and chunked checksums.

Forgetting must take a vector out of every file (invariant 4) without rewriting
hundreds of megabytes: at 100k turns a structured namespace's index files are
~550 MB and a whole snapshot plus its checksum took seconds per forget. hnswlib
keeps each element's level-0 links, vector and label in one fixed-size record of
`data_level0`, right after a 96-byte header (hnswalg.h `saveIndex`), so a delete
can overwrite the vector and set the delete mark (bit 0 of the byte at offset 2
of the element's level-0 link list, `isMarkedDeleted`) where they lie. The
checksum is kept per 1 MiB chunk, so only the chunks a patch touched are hashed
again.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CHUNK = 1 << 20
HEADER = struct.Struct("<QQQQQQiIQQQdQ")  # offsetLevel0, max_elements, count, size per element, label offset, data offset, maxlevel, enterpoint, maxM, maxM0, M, mult, ef_construction
DELETE_MARK = 0x01


def chunk_digests(path: Path) -> dict:
    """Size and the sha256 of every CHUNK bytes of a file."""
    digests, size = [], 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digests.append(hashlib.sha256(chunk).hexdigest())
            size += len(chunk)
    return {"size": size, "chunk": CHUNK, "sha256": digests}


def rehash(path: Path, digest: dict, chunks: Iterable[int]) -> dict:
    """`digest` with the given chunks hashed again from the file (after a patch in place)."""
    hashes = list(digest["sha256"])
    with open(path, "rb") as f:
        for c in sorted(set(chunks)):
            f.seek(c * CHUNK)
            hashes[c] = hashlib.sha256(f.read(CHUNK)).hexdigest()
    return {**digest, "sha256": hashes}


def scrub(path: Path, labels: set[int], vectors: Sequence[np.ndarray], stored: np.ndarray | None = None) -> set[int]:
    """Overwrite the vectors of `labels` in an hnswlib index file and mark them deleted; the chunks touched.

    `vectors[j]` replaces the j-th label in sorted order. Labels the file does not hold are skipped
    (added after its snapshot: their vectors are in the journal). `stored`: the file's labels in record
    order, if the caller kept them (`labels_and_marks`), so a forget does not read the whole file.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        head = HEADER.unpack(os.pread(fd, HEADER.size, 0))
        level0, size, data_at = head[0], head[3], head[5]
        stored = labels_and_marks(path)[0] if stored is None else stored
        replacement = dict(zip(sorted(labels), vectors))
        touched: set[int] = set()
        for row in np.nonzero(np.isin(stored, np.fromiter(labels, dtype=np.uint64, count=len(labels))))[0]:
            start = HEADER.size + int(row) * size
            vector = np.asarray(replacement[int(stored[row])], dtype="<f4").tobytes()
            os.pwrite(fd, vector, start + data_at)
            mark = start + level0 + 2
            os.pwrite(fd, bytes([os.pread(fd, 1, mark)[0] | DELETE_MARK]), mark)
            touched.update(range(start // CHUNK, (start + size - 1) // CHUNK + 1))
        os.fsync(fd)
        return touched
    finally:
        os.close(fd)


def labels_and_marks(path: Path, block: int = 4 << 20) -> tuple[np.ndarray, np.ndarray]:
    """The label of every element record, in file order, and whether its delete mark is set.

    Read a block at a time, not mapped: every page of a mapped file a pass touches counts as this
    process's memory while mapped, the whole file (~390 MB for 233k facts) on every open and forget.
    """
    with open(path, "rb") as f:
        head = HEADER.unpack(f.read(HEADER.size))
        level0, count, size, label_at = head[0], head[2], head[3], head[4]
        rows = max(1, block // size)
        labels, marks = np.empty(count, dtype="<u8"), np.empty(count, dtype=bool)
        for start in range(0, count, rows):
            n = min(rows, count - start)
            records = np.frombuffer(f.read(n * size), dtype=np.uint8).reshape(n, size)
            labels[start : start + n] = np.ascontiguousarray(records[:, label_at : label_at + 8]).view("<u8").ravel()
            marks[start : start + n] = (records[:, level0 + 2] & DELETE_MARK) != 0
    return labels, marks

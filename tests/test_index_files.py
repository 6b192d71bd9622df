"""hnswlib index files: forgotten vectors leave them, saves are atomic and private, damage is caught before hnswlib reads it."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import hnswlib
import numpy as np
import pytest

from hyperloom.errors import IndexDamaged
from hyperloom.retrieval.index import JOURNAL_MAGIC, HnswIndex, _check_written

DIM = 384  # real-embedding width: random unit vectors are then nearly orthogonal (cosine ~ 0 +- 0.05)


def unit_rows(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def small(path: Path | None, dim: int = DIM, **kwargs) -> HnswIndex:
    return HnswIndex(path, dim, m=8, ef_construction=50, ef_search=20, **kwargs)


def saved(tmp_path: Path, n: int = 40, dim: int = DIM) -> Path:
    """A saved index of n vectors (labels 0..n-1) in tmp_path/vectors; its .hnsw path."""
    path = tmp_path / "vectors" / "ns.hnsw"
    index = small(path, dim)
    index.add(list(range(n)), unit_rows(n, dim=dim))
    index.save()
    return path


def every_stored_vector(path: Path, dim: int = DIM) -> np.ndarray:
    """Every vector in the file as hnswlib reads it, deleted ones included (unmarked to read them)."""
    raw = hnswlib.Index(space="cosine", dim=dim)
    raw.load_index(str(path))
    labels = raw.get_ids_list()
    for label in labels:
        try:
            raw.unmark_deleted(label)
        except RuntimeError:  # not deleted
            pass
    return np.asarray(raw.get_items(labels), dtype=np.float32)


# -- 1. forgotten vectors leave the file ---------------------------------------------------------


def test_a_deleted_vector_is_gone_from_the_saved_file(tmp_path: Path) -> None:
    path = tmp_path / "vectors" / "ns.hnsw"
    index = small(path)
    index.add(list(range(600)), unit_rows(600))
    index.add(list(range(600, 1200)), unit_rows(600, seed=1))  # past the initial 1024: a resize_index
    forgotten = index.get([7])[0]  # exactly as stored (hnswlib normalises in the cosine space)
    index.save()
    assert forgotten.tobytes() in path.read_bytes()  # the probe finds it while it is live

    index.delete([7])
    index.save()
    for f in path.parent.iterdir():
        assert forgotten.tobytes() not in f.read_bytes(), f
    assert (every_stored_vector(path) @ forgotten).max() < 0.5


def test_deleted_labels_are_never_returned(tmp_path: Path) -> None:
    index, vectors = small(None), unit_rows(300)
    index.add(list(range(300)), vectors)
    gone = set(range(0, 300, 3))
    index.delete(sorted(gone) + [0, 999])  # a repeat and an unknown id change nothing more
    assert index.ids() == set(range(300)) - gone
    for q in [*vectors[:20], *unit_rows(20, seed=5)]:
        found = [i for i, _ in index.query(q, len(index))]
        assert len(found) == len(index) and not gone & set(found)
    assert index.query(vectors[1], 1)[0][0] == 1  # search still finds the live ones


# -- 2. atomic, private saves ----------------------------------------------------------------------


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import os, numpy as np
        from pathlib import Path
        from hyperloom.retrieval.index import HnswIndex, _check_written
        os.umask(0)  # the most permissive: modes must come from the code, not the umask
        index = HnswIndex(Path({str(tmp_path)!r}) / "home" / "vectors" / "ns.hnsw", 4)
        index.add([1, 2], np.eye(4, dtype=np.float32)[:2])
        index.save()
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    vectors = tmp_path / "home" / "vectors"
    assert stat.S_IMODE(vectors.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    files = sorted(vectors.iterdir())
    assert {f.name for f in files} == {"ns.hnsw", "ns.ids.npy", "ns.sum", ".hnsw.lock"}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), [(f.name, oct(f.stat().st_mode)) for f in files]


def _save_repeatedly(path: str, worker: int, times: int) -> None:
    """One process: its own index (a size of its own), saved `times` times, re-read in between."""
    n = 20 + worker
    index = HnswIndex(Path(path), 8, m=8, ef_construction=50, load=False)
    index.add(list(range(n)), unit_rows(n, seed=worker, dim=8))
    for _ in range(times):
        index.save()
        assert len(HnswIndex(Path(path), 8)) in range(20, 20 + 8)  # some worker's whole, consistent set


def test_concurrent_saves_of_one_path_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "vectors" / "ns.hnsw"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_save_repeatedly, args=(str(path), w, 50)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * 4
    assert len(HnswIndex(path, 8)) in range(20, 24)
    assert not list(path.parent.glob("*.tmp"))


def test_a_failed_save_leaves_no_temp_and_the_old_files(tmp_path: Path) -> None:
    path = saved(tmp_path)
    index = small(path, load=False)  # never saved: its first save is a whole snapshot
    index.add([7], unit_rows(1))
    index._index = None  # save_index now fails half-way through writing the set
    with pytest.raises(AttributeError):
        index.save()
    assert sorted(f.name for f in path.parent.iterdir()) == [".hnsw.lock", "ns.hnsw", "ns.ids.npy", "ns.sum"]
    assert len(small(path)) == 40


def test_a_short_write_is_a_failed_save(tmp_path: Path) -> None:
    """hnswlib ignores write errors: a file cut short by a full disk must fail the save, not be checksummed."""
    index = small(tmp_path / "ns.hnsw")
    index.add(list(range(40)), unit_rows(40))
    written = tmp_path / "written.hnsw"
    index._index.save_index(str(written))
    _check_written(written, index._index)  # a whole file passes
    written.write_bytes(written.read_bytes()[: written.stat().st_size // 2])
    with pytest.raises(OSError, match="of at least"):
        _check_written(written, index._index)


# -- 3. damaged files are caught before hnswlib reads them ------------------------------------------

LOAD = """
import sys
import numpy as np
from pathlib import Path
from hyperloom.errors import IndexDamaged
from hyperloom.retrieval.index import HnswIndex, _check_written
try:
    index = HnswIndex(Path(sys.argv[1]), int(sys.argv[2]), m=8, ef_construction=50)
    index.query(np.ones(int(sys.argv[2]), dtype=np.float32), 10)
    print("loaded", len(index))
except IndexDamaged as exc:
    print("damaged:", exc)
"""


def load_elsewhere(path: Path, dim: int = DIM) -> str:
    """Open the index in a child process (a segfault must not take pytest down); what it printed."""
    done = subprocess.run([sys.executable, "-c", LOAD, str(path), str(dim)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    return done.stdout.strip()


def flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def other_dim_hnsw(path: Path) -> None:
    raw = hnswlib.Index(space="cosine", dim=16)
    raw.init_index(max_elements=64, M=8)
    raw.add_items(unit_rows(40, dim=16), np.arange(40))
    raw.save_index(str(path))


DAMAGE = {
    "flipped bytes": lambda p: flip_middle(p),
    "truncated": lambda p: truncate(p),
    "garbage ids": lambda p: p.with_suffix(".ids.npy").write_bytes(b"\x93NUMPY garbage" * 10),
    "other-dim hnsw": lambda p: other_dim_hnsw(p),
    "no checksum": lambda p: p.with_suffix(".sum").unlink(),
    "garbage checksum": lambda p: p.with_suffix(".sum").write_text("{not json"),
    "no hnsw": lambda p: p.unlink(),
    "no ids": lambda p: p.with_suffix(".ids.npy").unlink(),
}


def test_intact_files_load(tmp_path: Path) -> None:
    assert load_elsewhere(saved(tmp_path)) == "loaded 40"


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_files_raise_index_damaged(tmp_path: Path, damage: str) -> None:
    path = saved(tmp_path)
    DAMAGE[damage](path)
    said = load_elsewhere(path)
    assert said.startswith("damaged: The vector index file ") and str(tmp_path) in said
    assert said.endswith(".") and ". " not in said.removeprefix("damaged: ")  # one sentence


def test_a_whole_index_of_another_dimension_is_damaged(tmp_path: Path) -> None:
    path = saved(tmp_path, dim=16)  # a consistent set, but not of the vectors asked for
    said = load_elsewhere(path, DIM)
    assert said.startswith("damaged:") and "16-dimensional" in said


def test_damaged_files_are_rebuilt_from_scratch(tmp_path: Path) -> None:
    path = saved(tmp_path)
    flip_middle(path)
    with pytest.raises(IndexDamaged, match="ns.hnsw"):
        small(path)
    fresh = small(path, load=False)  # the store's way out: an empty index at the same path ...
    assert len(fresh) == 0
    fresh.discard_files()
    assert not [f for f in path.parent.iterdir() if f.name != ".hnsw.lock"]
    fresh.add([1, 2, 3], unit_rows(3))  # ... refilled from the log and saved over the damage
    fresh.save()
    assert small(path).ids() == {1, 2, 3}


def test_drop_works_on_damaged_files_without_reading_them(tmp_path: Path) -> None:
    path = saved(tmp_path)
    path.with_suffix(".ids.npy").write_bytes(b"garbage")
    small(path, load=False).drop()
    assert not path.exists() and not path.with_suffix(".sum").exists()
    assert len(small(path)) == 0  # nothing left to load, nothing damaged


def test_drop_of_an_index_never_saved(tmp_path: Path) -> None:
    small(tmp_path / "nowhere" / "ns.hnsw").drop()
    assert not (tmp_path / "nowhere").exists()


def test_vectors_added_after_a_snapshot_go_to_the_journal_and_come_back(tmp_path: Path) -> None:
    path = saved(tmp_path)  # a snapshot of 40
    index = small(path)
    snapshot = path.read_bytes()
    index.add([100, 101], unit_rows(2, seed=9))
    index.save()
    assert path.read_bytes() == snapshot and path.with_suffix(".journal").exists()  # the snapshot was not rewritten
    again = small(path)
    assert again.ids() == set(range(40)) | {100, 101}
    assert np.allclose(again.get([101]), unit_rows(2, seed=9)[1:], atol=1e-6)


def test_a_journal_record_cut_short_by_a_crash_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = saved(tmp_path)
    index = small(path)
    index.add([100], unit_rows(1, seed=3))
    index.save()
    index.add([101], unit_rows(1, seed=4))
    index.save()
    journal = path.with_suffix(".journal")
    journal.write_bytes(journal.read_bytes()[:-10])  # the last append torn
    assert small(path).ids() == set(range(40)) | {100}
    flipped = bytearray(journal.read_bytes())
    flipped[len(JOURNAL_MAGIC) + 32 + 20] ^= 0xFF  # and a record whose bytes changed (the first, 100's) is no record
    journal.write_bytes(bytes(flipped))
    assert small(path).ids() == set(range(40))


def test_a_delete_overwrites_the_vector_where_it_lies_in_the_snapshot_and_the_journal(tmp_path: Path) -> None:
    path = saved(tmp_path)
    index = small(path)
    secret = unit_rows(1, seed=11)
    index.add([100], secret)
    index.save()
    kept = {label: index.get([label])[0].tobytes() for label in (5, 6, 100)}  # as hnswlib stores them (normalised)
    size, snapshot_id = path.stat().st_size, path.with_suffix(".sum").read_text()[:60]
    index.delete([5, 100])  # one in the snapshot, one in the journal
    index.save()
    data = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert kept[5] not in data and kept[100] not in data
    assert kept[6] in data  # the others untouched: patched in place, not rewritten
    assert path.stat().st_size == size and path.with_suffix(".journal").exists()
    assert path.with_suffix(".sum").read_text()[:60] == snapshot_id  # the same snapshot, re-hashed where patched
    again = small(path)
    assert again.ids() == set(range(40)) - {5} and 5 not in [label for label, _ in again.query(np.frombuffer(kept[5], np.float32), 3)]


def test_a_forgotten_label_added_again_comes_back_with_its_new_vector(tmp_path: Path) -> None:
    path = saved(tmp_path)
    index = small(path)
    index.delete([3])
    index.save()
    index.add([3], unit_rows(1, seed=21))
    index.save()
    again = small(path)
    assert 3 in again.ids() and np.allclose(again.get([3]), unit_rows(1, seed=21), atol=1e-6)


def test_refresh_reads_only_new_journal_records_until_the_snapshot_changes(tmp_path: Path) -> None:
    path = saved(tmp_path)
    writer, reader = small(path), small(path)
    writer.add([100], unit_rows(1, seed=5))
    writer.save()
    assert reader.refresh() == set() and 100 in reader.ids()  # additions only: nothing the reader derived is stale
    writer.delete([100])
    writer.save()
    assert reader.refresh() == {100} and 100 not in reader.ids()  # a tombstone: the reader drops what it derived from 100
    writer.add(list(range(1000, 2100)), unit_rows(1100, seed=6))
    writer.save()  # a journal past its bound: a new snapshot
    assert reader.refresh() is None and len(reader) == 40 + 1100  # read whole again: anything may have changed


def test_a_delete_after_another_process_rewrote_the_snapshot_scrubs_the_right_record(tmp_path: Path) -> None:
    """A reindex elsewhere writes the labels in another order: a delete here must not patch records by the old order."""
    path = saved(tmp_path, n=40)
    mine = small(path)  # opened before the rewrite: it knows the old record order
    vectors = unit_rows(40)
    other = small(path, load=False)
    other.drop()
    keep = [i for i in range(40) if i % 3]  # a rebuild without some labels: every later record moves
    other.add(keep[::-1], vectors[keep[::-1]])
    other.save()
    mine.delete([keep[5]])
    mine.save()
    stored = every_stored_vector(path)
    assert not np.any(np.all(np.isclose(stored, vectors[keep[5]], atol=1e-6), axis=1))  # the forgotten vector is gone
    for label in keep[:5] + keep[6:]:  # and every other one is where it was
        assert np.any(np.all(np.isclose(stored, vectors[label], atol=1e-6), axis=1)), label

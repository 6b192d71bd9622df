"""DIR/results.jsonl: the run's manifest, then one record per ingested unit and per answered question.

Records are flushed one by one, so a crash or Ctrl-C loses at most the question in
flight; `--resume` keeps what is there and skips it. The first line names what
the run measures, so a resume with other settings is refused instead of mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from hyperloom.errors import InputError, StorageError

FORMAT = 1


class ResultsLog:
    def __init__(self, path: Path, manifest: dict, *, resume: bool):
        self.path = path
        self.manifest = json.loads(json.dumps({"format": FORMAT, **manifest}))  # as it reads back: tuples become lists
        self.records: list[dict] = []
        if resume and path.exists():
            self.records = self._read_matching()
        self._fh = self._rewrite()

    def done(self) -> set[str]:
        return {r["key"] for r in self.records if r.get("kind") == "question"}

    def append(self, record: dict) -> None:
        self.records.append(record)
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()  # in the OS's hands: survives the process being killed
        except OSError as exc:
            raise StorageError(f"Cannot write {self.path} ({exc.strerror}); free some space or choose another --out.") from None

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def _read_matching(self) -> list[dict]:
        header, records = _read(self.path)
        if header != self.manifest:
            field = next((k for k in sorted(set(header) | set(self.manifest)) if header.get(k) != self.manifest.get(k)), "format")
            raise InputError(f"{self.path} holds a run with another `{field}` ({header.get(field)!r}, now {self.manifest.get(field)!r}); run without --resume to start afresh, or choose another --out.")
        return records

    def _rewrite(self) -> IO[str]:
        """Start the file from the manifest and the kept records, dropping a line a crash cut short."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                for obj in [{"kind": "run", "manifest": self.manifest}, *self.records]:
                    fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            tmp.replace(self.path)
            return open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"Cannot write {self.path} ({exc.strerror}); choose a writable --out directory.") from None


def _read(path: Path) -> tuple[dict, list[dict]]:
    """The manifest and every complete record; a line that does not parse (cut off by a crash) is dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path} ({exc}); run without --resume to start afresh.") from None
    objects = []
    for line in lines:
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not objects or objects[0].get("kind") != "run":
        raise InputError(f"{path} is not a hyperloom results file; run without --resume to start afresh, or choose another --out.")
    return objects[0]["manifest"], [o for o in objects[1:] if isinstance(o, dict) and o.get("kind") in ("ingest", "question")]

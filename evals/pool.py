"""Runs units in this process or fans them out over a pool of processes, streaming records back as questions finish."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from queue import Empty

from hyperloom.evals.datasets import Unit
from hyperloom.evals.worker import WorkSettings, run_unit


def execute(units: list[Unit], settings: WorkSettings, workers: int, on_record: Callable[[dict], object]) -> None:
    """Run every unit, in this process or over a pool of processes; records arrive as questions finish."""
    if workers <= 1 or len(units) <= 1:
        for unit in units:
            run_unit(unit, settings, on_record)
        return
    workers = min(workers, len(units))
    settings = replace(settings, threads=max(1, (os.cpu_count() or 1) // workers))  # no oversubscription
    context = mp.get_context("spawn")  # onnxruntime and sqlite handles do not survive fork
    queue = context.Queue()
    expected = sum(1 + len(u.questions) for u in units)
    # SIGTERM would end this process without unwinding, leaving the workers running on: make it an exit.
    previous = signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        with context.Pool(workers, initializer=_init_worker, initargs=(queue, settings)) as pool:
            result = pool.map_async(_run_in_worker, units, chunksize=1)
            try:
                _collect(queue, result, expected, on_record)
            except BaseException:
                _drain(queue, on_record)  # keep every question that finished before the interrupt
                pool.terminate()
                pool.join()
                raise
            result.get()
            pool.close()
            pool.join()  # let the workers exit on their own, releasing their locks before the tracker looks
    finally:
        signal.signal(signal.SIGTERM, previous)
        queue.close()  # release the queue's semaphores now, not at interpreter exit
        queue.join_thread()


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _collect(queue, result, expected: int, on_record: Callable[[dict], object]) -> None:
    received = 0
    while received < expected:
        try:
            record = queue.get(timeout=0.25)
        except Empty:
            if result.ready() and not result.successful():
                result.get()  # raises the worker's error here
            continue
        on_record(record)
        received += 1


def _drain(queue, on_record: Callable[[dict], object]) -> None:
    while True:
        try:
            on_record(queue.get(timeout=0.05))
        except (Empty, OSError, ValueError):
            return


_queue = None
_settings: WorkSettings | None = None


def _init_worker(queue, settings: WorkSettings) -> None:
    global _queue, _settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    if settings.threads:  # the local LLM shares the cores with the other workers too
        os.environ["HYPERLOOM_LLM_THREADS"] = str(settings.threads)
    _queue, _settings = queue, settings


def _run_in_worker(unit: Unit) -> None:
    run_unit(unit, _settings, _queue.put)

"""Topic fits in a pool of processes: fed in input order, a bounded number in flight, results in input order.

A firm's fit is mostly single-core work and independent of every other firm's, so on a machine with more
cores than the embedder uses, fits run side by side in ``FTM_FIT_WORKERS`` processes while the worker's
own process keeps embedding. Results come back in input order, so checkpoints and output are those of a
serial run, bit for bit (``fit.fit_firm`` holds BLAS/OpenMP to one thread wherever it runs).

- Processes are *spawned*, never forked: the worker holds ONNX Runtime and torch thread pools whose locks a
  forked child would inherit mid-state. They start when the pool is built, so their imports overlap the
  model load and the first embedding.
- At most ``IN_FLIGHT_PER_WORKER`` firms per process are submitted and not yet handed back, so memory
  stays flat whatever the batch size.
- Each process is its own single-process executor (a "slot"): when one dies (out-of-memory kill,
  segfault), the firm it was running is known, and gets a ``FitProcessDied`` naming it and the signal (a
  critical, firm-bound error: ``failures.py``); the firms queued behind it are refitted in a fresh process.
  A process that dies while starting (``FitPoolBroken``) is critical too, but no firm's fault.
- ``close`` ends every process; the processor calls it however its ``results`` ends.

Test hook: ``FTM_TEST_FIT_CRASH=<firm_id>[:<signal>]`` makes a fit process kill itself with that signal
(default SIGKILL, what the OOM killer sends) when it starts fitting that firm; ``@start``: exit during start-up
(``FitPoolBroken``: critical, but not bound to the firm that was next).

This module imports only the standard library at the top: a spawned process imports it to find its entry
points, and then ``fit`` (numpy, scipy, the topic model) in its initializer.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ftm_assets.worker.env import WorkerEnv

START_METHOD = "spawn"  # not fork: see the module docstring
IN_FLIGHT_PER_WORKER = 2  # one fitting, one waiting in the process's queue: no idle gap, flat memory
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # a fit process's libraries: 1 thread
START_CRASH = "@start"  # the test hook's value that ends every fit process during its start-up
JOIN_TIMEOUT_S = 10.0
PARENT_POLL_S = 0.5  # how soon a fit process notices that the worker is gone

K = TypeVar("K")


class FitProcessDied(RuntimeError):
    """A fit process ended abruptly (killed, crashed) while fitting a firm: critical, bound to that firm."""

    error_class = "FitProcessDied"

    def __init__(self, message: str, firm_id: str, exitcode: int | None):
        super().__init__(message)
        self.firm_id = firm_id
        self.exitcode = exitcode


class FitPoolBroken(RuntimeError):
    """A fit process ended before it could fit anything (its start-up failed): critical, not the firm's fault."""

    error_class = "FitPoolBroken"


def default_fit_workers(device: str, environ: Mapping[str, str] | None = None, cores: int | None = None) -> int:
    """The cores the embedder leaves free, at least 1: on CUDA it needs ~1 core; on CPU its thread count.

    The CPU embedder (torch, or ONNX Runtime given torch's count) runs ``OMP_NUM_THREADS`` threads when
    set, else one per core; so on a CPU-only machine this is usually 1.
    """
    env = os.environ if environ is None else environ
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device == "cuda":
        return max(1, cores - 1)
    try:
        embed_threads = int(env.get("OMP_NUM_THREADS", "") or cores)
    except ValueError:
        embed_threads = cores
    return max(1, cores - max(1, embed_threads))


def describe_exit(exitcode: int | None) -> str:
    """``killed by SIGKILL (signal 9)``, ``exited with code 1`` or ``exit status unknown``."""
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name} (signal {-exitcode})"
    return f"exited with code {exitcode}"


@dataclass(eq=False)
class _Slot:
    """One fit process (a single-process executor) and the fits submitted to it, in order."""

    executor: ProcessPoolExecutor
    ready: Future  # done once the process has started and warmed up
    process: Any = None  # multiprocessing's Process of this slot, for its exit code
    tickets: list[_Ticket] = field(default_factory=list)


@dataclass(eq=False)
class _Ticket:
    firm_id: str
    args: tuple
    future: Future
    slot: _Slot
    died: Exception | None = None  # FitProcessDied, or FitPoolBroken


class FitPool:
    """``workers`` spawned fit processes; ``in_order`` streams firms through them."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"A fit pool needs at least 1 process, got {workers} (0 means: fit in-process).")
        self.workers = workers
        self.max_in_flight = IN_FLIGHT_PER_WORKER * workers
        self._ctx = mp.get_context(START_METHOD)
        self._slots = [self._new_slot() for _ in range(workers)]
        self._closed = False

    def _new_slot(self) -> _Slot:
        executor = ProcessPoolExecutor(max_workers=1, mp_context=self._ctx, initializer=_init_process,
                                       initargs=(os.getpid(),))
        ready = executor.submit(os.getpid)  # starts the process now: its imports overlap the caller's model load
        # A single-process executor has exactly one process; keep it for its exit code if it dies.
        process = next(iter(getattr(executor, "_processes", {}).values()), None)
        return _Slot(executor, ready, process)

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_ready(self) -> None:
        """Block until every fit process has started and warmed up (benchmarks time fits without it)."""
        wait_futures([s.ready for s in self._slots])

    def pids(self) -> list[int]:
        """The fit processes' ids (for tests and logs)."""
        return [s.process.pid for s in self._slots if s.process is not None]

    def in_order(self, jobs: Iterable[tuple[K, tuple | Exception]]) -> Iterator[tuple[K, Any]]:
        """``(key, fit_firm(*args) or its exception)`` in input order; an exception given as a job passes through.

        ``args`` are ``fit.fit_firm``'s, the firm first. Submits ahead up to ``max_in_flight`` firms. An error
        raised by ``jobs`` itself reaches the caller after the results of the jobs before it (as ``prefetch``).
        """
        source = iter(jobs)
        window: deque[tuple[K, _Ticket | Exception]] = deque()
        exhausted, input_error = False, None
        while True:
            while not exhausted and len(window) < self.max_in_flight:
                try:
                    key, job = next(source)
                except StopIteration:
                    exhausted = True
                except Exception as exc:  # the input itself failed: hand it over after what came before
                    exhausted, input_error = True, exc
                else:
                    window.append((key, job if isinstance(job, Exception) else self.submit(*job)))
            if not window:
                break
            key, ticket = window.popleft()
            yield key, ticket if isinstance(ticket, Exception) else self.outcome(ticket)
        if input_error is not None:
            raise input_error

    def submit(self, *args) -> _Ticket:
        """Queue one fit on the least busy process (``args``: ``fit.fit_firm``'s)."""
        if self._closed:
            raise RuntimeError("The fit pool is closed.")
        slot = min(self._slots, key=lambda s: len(s.tickets))
        ticket = _Ticket(args[0].firm_id, args, slot.executor.submit(_run_fit, *args), slot)
        slot.tickets.append(ticket)
        return ticket

    def outcome(self, ticket: _Ticket) -> Any:
        """The fit's ``FitRows``, or the exception it raised, or ``FitProcessDied`` (waits for it)."""
        while ticket.died is None:
            try:
                value = ticket.future.result()
            except BrokenProcessPool:
                self._recover(ticket.slot)
                continue  # either this firm killed the process (died is set) or it was refitted elsewhere
            except Exception as exc:  # the fit's own error: the firm's result, as in-process
                value = exc
            ticket.slot.tickets.remove(ticket)
            return value
        return ticket.died

    def _recover(self, slot: _Slot) -> None:
        """A process died: blame the firm it was running, refit the ones queued behind it in a new process."""
        if slot not in self._slots:
            return  # already recovered (by another ticket of the same slot)
        wait_futures([t.future for t in slot.tickets])  # a broken executor fails all its pending fits at once
        broken = [t for t in slot.tickets if isinstance(t.future.exception(), BrokenProcessPool)]
        exitcode = _exitcode(slot.process)
        slot.executor.shutdown(wait=True)
        fresh = self._new_slot()
        self._slots[self._slots.index(slot)] = fresh
        if not broken:
            return
        killer, rest = broken[0], broken[1:]  # one process runs its fits in order: the first was running
        pid = slot.process.pid if slot.process is not None else "?"
        if not slot.ready.done() or slot.ready.exception() is not None:  # it never got as far as a fit
            killer.died = FitPoolBroken(
                f"The fit process (pid {pid}) {describe_exit(exitcode)} while starting, before it fitted any firm "
                f"(firm {killer.firm_id} was next; its own error, if any, is in the worker's log above)."
            )
        else:
            oom = " (what the kernel's out-of-memory killer sends: the fit likely ran out of memory)" if exitcode == -9 else ""
            killer.died = FitProcessDied(
                f"The fit process (pid {pid}) died while fitting firm {killer.firm_id}: {describe_exit(exitcode)}{oom}.",
                killer.firm_id, exitcode,
            )
        slot.tickets = [t for t in slot.tickets if t not in broken]
        for t in rest:
            t.future, t.slot = fresh.executor.submit(_run_fit, *t.args), fresh
            fresh.tickets.append(t)

    def close(self, cancel: bool = True) -> None:
        """End every fit process; with ``cancel``, fits still running (or warming up) are killed, not awaited."""
        if self._closed:
            return
        self._closed = True
        # Each slot's process, and any its executor started since (it replaces none, but may be mid-start);
        # listed before shutdown, which forgets them.
        processes = [[slot.process, *(getattr(slot.executor, "_processes", None) or {}).values()]
                     for slot in self._slots]
        for slot in self._slots:
            slot.executor.shutdown(wait=False, cancel_futures=True)
        for started in processes:
            for process in {id(p): p for p in started if p is not None}.values():
                if cancel:
                    process.terminate()
                process.join(JOIN_TIMEOUT_S)
                if process.is_alive():
                    process.kill()
                    process.join()

    def __enter__(self) -> FitPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _exitcode(process) -> int | None:
    """The dead process's exit code; the executor's own thread may be reaping it at the same moment."""
    if process is None:
        return None
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    process.join(JOIN_TIMEOUT_S)
    while process.exitcode is None and time.monotonic() < deadline:  # lost the waitpid race: the other
        time.sleep(0.01)  # thread sets the same Popen's return code in a moment
    return process.exitcode


def _init_process(parent: int) -> None:
    """A fit process's start: one BLAS/OpenMP thread (before numpy loads), then a small warm-up fit."""
    _exit_with_parent(parent)
    if WorkerEnv.read().hooks.fit_crash == START_CRASH:
        os._exit(3)
    for name in THREAD_ENV:
        os.environ[name] = "1"
    from ftm_assets.worker.fit import warm_up

    warm_up()  # the topic model's imports and lazy set-up, paid while the worker loads its model


def _exit_with_parent(parent: int) -> None:
    """End this process soon after the worker (``parent``) is killed (SIGKILL, OOM), even mid-fit.

    Otherwise it would wait on its task queue forever: the queue it inherited holds both ends of the pipe.
    The worker's pid is passed in: it may have died before this process got this far.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="ftm-fit-parent-watch", daemon=True).start()


def _run_fit(*args):
    """``fit.fit_firm`` in a fit process (and the test hook that kills the process on a named firm)."""
    from ftm_assets.worker.fit import fit_firm

    _maybe_crash(args[0].firm_id)
    return fit_firm(*args)


def _maybe_crash(firm_id: str) -> None:
    wanted = WorkerEnv.read().hooks.fit_crash
    if not wanted:
        return
    name, _, sig = wanted.partition(":")
    if name == firm_id:
        os.kill(os.getpid(), signal.Signals[sig or "SIGKILL"])

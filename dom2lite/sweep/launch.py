"""Running a sweep's cells: here in parallel processes, or on a cluster through submitit.

:func:`run_cell` is the one worker every executor runs: it claims the cell's folder, runs the cell's
``train`` command (which resumes an interrupted run from its last checkpoint, bit-identically) and its
shifted evaluations as child processes, logs their output to ``sweep.log`` in the folder, records the
piece (``sweep_pieces.jsonl``) and releases the claim. On a cluster, submitit pickles it and calls it on
a node; locally, a thread per slot calls it, so ``jobs`` cells train side by side.

- ``local`` (default): ``jobs`` processes on this machine, each with ``DOM2LITE_THREADS`` = cores / jobs
  unless set; the call returns when every cell is done (Ctrl-C stops them; their last checkpoints stay).
- ``slurm``: one submitit job per cell (``submitit.AutoExecutor(cluster="slurm")``); the call submits and
  returns (``wait=True`` blocks); the job ids go into ``{root}/sweep_jobs.json`` so a later call counts
  the waiting ones as queued instead of submitting them twice.
- ``submitit-local``: submitit's own local executor: the cluster path run on this machine (its tests).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from dom2lite.io import atomic_write_json
from dom2lite.sweep.grid import Cell
from dom2lite.sweep.ledger import CLAIM, HEARTBEAT_S, append_piece, cell_state, last_step

EXECUTORS = ("local", "slurm", "submitit-local")
JOBS_FILE = "sweep_jobs.json"


def _job_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job
        return None


def run_cell(cell: Cell, root: str, executor: str = "local", stop_after: int | None = None,
             env: dict[str, str] | None = None, children: set | None = None) -> dict[str, Any]:
    """Train (or continue) one cell and write its shifted evaluations; returns the piece it recorded, or
    ``{"skipped": "running" | "done", ...}`` when another worker holds the cell (two sweeps over one grid).
    ``children``: a set the running child process is kept in while it runs (so a caller can stop it)."""
    root = str(root)
    run_dir = cell.run_dir(root)
    state = cell_state(cell, root).state
    if state in ("running", "done"):  # another sweep's worker took (or finished) it after this one planned it
        return {"skipped": state, "rc": 0, "to_step": last_step(run_dir)}
    run_dir.mkdir(parents=True, exist_ok=True)
    claim = run_dir / CLAIM
    atomic_write_json(claim, {"host": socket.gethostname(), "pid": os.getpid(), "executor": executor,
                              "job_id": _job_id(), "started": time.time()})
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(HEARTBEAT_S):
            try:
                os.utime(claim)
            except FileNotFoundError:
                return

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    train = cell.train_command(root)
    if stop_after is not None:
        train += ["--stop-after", str(stop_after)]
    commands = [train] + [cmd for cmd, out in zip(cell.eval_commands(root), cell.eval_files(root))
                          if not out.is_file()]
    start, from_step, rc = time.time(), last_step(run_dir), 0
    try:
        with open(run_dir / "sweep.log", "a", encoding="utf-8") as log:
            for i, cmd in enumerate(commands):
                if i > 0 and not (run_dir / "result.json").is_file():
                    break  # a piece that stopped early: the evaluations wait for the finished run
                log.write(f"$ {' '.join(cmd)}\n")
                log.flush()
                child = subprocess.Popen([sys.executable, *cmd[1:]], stdout=log, stderr=subprocess.STDOUT, env=env)
                if children is not None:
                    children.add(child)
                try:
                    rc = child.wait()
                finally:
                    if children is not None:
                        children.discard(child)
                if rc != 0:
                    break
    finally:
        stop.set()
        piece = {"start": start, "seconds": time.time() - start, "from_step": from_step,
                 "to_step": last_step(run_dir), "rc": rc, "host": socket.gethostname(), "executor": executor,
                 "job_id": _job_id()}
        append_piece(run_dir, piece)
        claim.unlink(missing_ok=True)
    return piece


def worker_env(jobs: int) -> dict[str, str]:
    """The children's environment: an even share of the cores each, unless ``DOM2LITE_THREADS`` is set."""
    env = dict(os.environ)
    if "DOM2LITE_THREADS" not in env:
        env["DOM2LITE_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    return env


def run_local(cells: list[Cell], root: str, jobs: int, stop_after: int | None = None,
              on_done: Callable[[Cell, dict], None] | None = None) -> list[dict]:
    """Every cell in ``jobs`` parallel processes; ``on_done(cell, piece)`` after each (the progress line).

    On ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM through the command's handler) no further cell starts,
    the running ones are terminated (each keeps its last checkpoint and records its piece), and the
    interrupt is raised again once they have stopped."""
    env = worker_env(jobs)
    children: set = set()

    def one(cell):
        piece = run_cell(cell, root, "local", stop_after, env, children)
        if on_done is not None:
            on_done(cell, piece)
        return piece

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = [pool.submit(one, cell) for cell in cells]
    try:
        pieces = [f.result() for f in futures]
    except KeyboardInterrupt:
        for f in futures:
            f.cancel()
        for child in list(children):
            child.terminate()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return pieces


def read_jobs(root: str | Path) -> dict[str, dict]:
    path = Path(root) / JOBS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def queued_dirs(root: str | Path) -> set[str]:
    """Run folders whose slurm job the ledger says is still waiting (asked of slurm through submitit)."""
    waiting = set()
    for run_dir, job in read_jobs(root).items():
        if job.get("executor") != "slurm":
            continue
        try:
            import submitit

            state = submitit.SlurmJob(folder=job["folder"], job_id=job["job_id"]).state
        except Exception:  # no slurm here (or the job is long forgotten): not waiting
            continue
        if state in ("PENDING", "REQUEUED", "CONFIGURING", "RESIZING"):
            waiting.add(run_dir)
    return waiting


def submit(cells: list[Cell], root: str, executor: str, parameters: dict[str, Any], stop_after: int | None = None,
           wait: bool = False) -> list[Any]:
    """One submitit job per cell; records the job ids in ``{root}/sweep_jobs.json``."""
    from dom2lite.errors import BackendMissing

    try:
        import submitit
    except ImportError:
        raise BackendMissing("submitit", "a cluster sweep needs submitit",
                                     hint='pip install -e ".[sweep]" (or choose --on local)') from None
    folder = Path(root) / "submitit" / "%j"
    auto = submitit.AutoExecutor(folder=folder, cluster="local" if executor == "submitit-local" else "slurm")
    auto.update_parameters(**parameters)
    jobs = [auto.submit(run_cell, cell, root, executor, stop_after) for cell in cells]
    ledger = read_jobs(root)
    for cell, job in zip(cells, jobs):
        ledger[str(cell.run_dir(root))] = {"executor": executor, "job_id": str(job.job_id),
                                           "folder": str(folder), "submitted": time.time()}
    atomic_write_json(Path(root) / JOBS_FILE, ledger)
    if wait or executor == "submitit-local":  # a local job dies with its submitter: always wait for it
        for job in jobs:
            job.result()
    return jobs

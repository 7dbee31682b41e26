"""Where a result came from: command line, git commit, package versions, time.

Every results file, data set card and run folder records this.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_PACKAGES = ("dom2lite", "torch", "numpy", "gymnasium", "pettingzoo", "mpe2", "mujoco", "gymnasium-robotics")


def git_commit(cwd: str | Path | None = None) -> str:
    """The current git commit (with ``-dirty`` when the tree has changes), or ``"unknown"``."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu() -> dict[str, str]:
    """The processor: its model name (``/proc/cpuinfo``, else ``platform.processor()``) and, where torch is
    imported, the instruction set its CPU kernels dispatch to (``AVX2``, ``AVX512``, ...). Float results
    repeat bit for bit only on the same kind: the kernels of two instruction sets add in different orders."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch = sys.modules.get("torch")
    out = {"model": model}
    if torch is not None:
        out["capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def provenance(command: list[str] | str | None = None) -> dict:
    """A JSON-ready record of how and where something was produced."""
    if command is None:
        command = sys.argv
    torch = sys.modules.get("torch")  # not imported for it: a data card written without torch has none
    return {
        "command": command if isinstance(command, str) else " ".join(command),
        "git_commit": git_commit(),
        # CPU results repeat bit for bit only at the same thread count (DOM2LITE_THREADS, dom2lite.seeding)
        **({"torch_threads": torch.get_num_threads()} if torch is not None else {}),
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # and on the same kind of processor: a data set generated on an AVX-512 machine differs in its bytes
        # from one generated on an AVX2 machine (chapter 01)
        "cpu": cpu(),
        "versions": package_versions(),
    }

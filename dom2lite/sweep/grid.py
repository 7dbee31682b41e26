"""A sweep's grid: tasks x qualities x algorithms x data fractions x augmentation x varied fields x seeds.

Every point of the grid is a :class:`Cell`: one ordinary training run (``python -m dom2lite train``) in a
fixed folder named by its setting, ``{root}/{task}-{quality}/{algo}[-f0.05][-aug][-field=value]-s{seed}``,
followed by its evaluations on shifted environments. The folder name is the cell's identity: calling the
sweep again finds each cell where the last call left it (finished, interrupted, never started).
``Cell.train_command`` is the one command that reproduces the cell on its own.
How to run a grid in pieces: the README, "Full experiments".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from dom2lite.errors import ConfigError

_SAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


@dataclass(frozen=True)
class TrainOptions:
    """What every cell of a sweep shares: the budget, fixed ``--set`` overrides, evaluation episodes."""

    profile: str = "full"
    steps: int | None = None
    eval_every: int | None = None
    eval_episodes: int | None = None
    checkpoint_every: int | None = None
    sets: tuple[str, ...] = ()
    """``FIELD=VALUE`` overrides applied to every cell (as given to ``train --set``)."""
    data_dir: str | None = None
    device: str | None = None

    def flags(self) -> list[str]:
        """The options ``train`` and ``sweep`` both take: ``--profile full --steps 20000 ...``."""
        out = ["--profile", self.profile]
        for flag, value in (("--steps", self.steps), ("--eval-every", self.eval_every),
                            ("--eval-episodes", self.eval_episodes), ("--checkpoint-every", self.checkpoint_every),
                            ("--data-dir", self.data_dir),
                            ("--device", self.device)):
            if value is not None:
                out += [flag, str(value)]
        return out


@dataclass(frozen=True)
class Cell:
    """One run of the grid and the shifted evaluations that follow it."""

    task: str
    quality: str
    algo: str
    seed: int
    data_fraction: float = 1.0
    augment: bool = False
    varied: tuple[tuple[str, str], ...] = ()
    """(field, value) pairs of the ``--vary`` dimensions, as ``train --set`` takes them."""
    shifts: tuple[tuple[str, float], ...] = ()
    """(shift, strength) evaluations of the final policy, each an ``eval_{shift}_{strength}.json``."""
    options: TrainOptions = field(default_factory=TrainOptions)

    @property
    def setting(self) -> str:
        """Everything but the seed: ``spread-expert/cql-f0.05-cql_alpha=1``."""
        parts = [self.algo]
        if self.data_fraction < 1.0:
            parts.append(f"f{self.data_fraction:g}")
        if self.augment:
            parts.append("aug")
        parts += [f"{k}={v}" for k, v in self.varied]
        return f"{self.task}-{self.quality}/" + _SAFE.sub("_", "-".join(parts))

    def run_dir(self, root: str | Path) -> Path:
        return Path(root) / f"{self.setting}-s{self.seed}"

    def train_command(self, root: str | Path) -> list[str]:
        o = self.options
        cmd = ["python", "-m", "dom2lite", "train", "--task", self.task, "--quality", self.quality,
               "--algo", self.algo, "--seed", str(self.seed), *o.flags()]
        if self.data_fraction < 1.0:
            cmd += ["--data-fraction", f"{self.data_fraction:g}"]
        if self.augment:
            cmd.append("--augment")
        for item in (*o.sets, *(f"{k}={v}" for k, v in self.varied)):
            cmd += ["--set", item]
        return [*cmd, "--run-dir", str(self.run_dir(root)), "--no-progress"]

    def sweep_command(self, root: str | Path, seeds) -> list[str]:
        """The ``sweep`` call that makes (or remakes) this cell's setting for ``seeds``."""
        o = self.options
        cmd = ["python", "-m", "dom2lite", "sweep", "--tasks", self.task, "--qualities", self.quality,
               "--algos", self.algo, "--seeds", ",".join(str(s) for s in seeds), *o.flags()]
        if self.data_fraction < 1.0:
            cmd += ["--fractions", f"{self.data_fraction:g}"]
        if self.augment:
            cmd += ["--augment", "on"]
        for item in o.sets:
            cmd += ["--set", item]
        for k, v in self.varied:
            cmd += ["--vary", f"{k}={v}"]
        for name, strength in self.shifts:
            cmd += ["--shift", f"{name}={strength:g}"]
        return [*cmd, "--root", str(root)]

    def eval_commands(self, root: str | Path) -> list[list[str]]:
        episodes = [] if self.options.eval_episodes is None else ["--episodes", str(self.options.eval_episodes)]
        device = [] if self.options.device is None else ["--device", self.options.device]
        return [["python", "-m", "dom2lite", "evaluate", str(self.run_dir(root)), "--shift", name,
                 "--strength", f"{strength:g}", *episodes, *device, "--no-calibration"]
                for name, strength in self.shifts]

    def eval_files(self, root: str | Path) -> list[Path]:
        return [self.run_dir(root) / f"eval_{name}_{strength:g}.json" for name, strength in self.shifts]


def parse_vary(items: list[str] | None) -> list[tuple[str, list[str]]]:
    """``["cql_alpha=1,5", "eta=0.1"]`` -> ``[("cql_alpha", ["1", "5"]), ("eta", ["0.1"])]``."""
    out = []
    for item in items or []:
        name, sep, values = item.partition("=")
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name.strip() or not choices:
            raise ConfigError("--vary", f"expected FIELD=V1,V2,..., got {item!r}")
        if name.strip() in {n for n, _ in out}:
            raise ConfigError("--vary", f"{name.strip()!r} is varied twice")
        out.append((name.strip(), choices))
    return out


def parse_shifts(items: list[str] | None, tasks) -> tuple[tuple[str, float], ...]:
    """``["speed=0.5,1", "size=1"]`` -> ``(("speed", 0.5), ("speed", 1.0), ("size", 1.0))``, each checked
    against every task of the sweep (a shift a task does not know is refused before anything runs)."""
    from dom2lite.envs.shifts import resolve_shift

    out: list[tuple[str, float]] = []
    for item in items or []:
        name, sep, values = item.partition("=")
        try:
            strengths = [float(v) for v in values.split(",")] if sep else [1.0]
        except ValueError:
            raise ConfigError("--shift", f"expected SHIFT or SHIFT=S1,S2 with numbers, got {item!r}") from None
        for strength in strengths:
            for task in tasks:
                resolve_shift(task, name.strip(), strength)
            out.append((name.strip(), strength))
    return tuple(dict.fromkeys(out))


def grid_cells(tasks, qualities, algos, seeds, *, fractions=(1.0,), augment=(False,), vary=(), shifts=(),
               options: TrainOptions = TrainOptions()) -> list[Cell]:
    """Every cell of the product, seeds innermost (the seeds of one setting run one after another)."""
    for name, values in (("--tasks", tasks), ("--qualities", qualities), ("--algos", algos), ("--seeds", seeds),
                         ("--fractions", fractions)):
        if not values:
            raise ConfigError(name, "the sweep needs at least one value")
    for f in fractions:
        if not 0.0 < f <= 1.0:
            raise ConfigError("--fractions", f"every fraction must lie in (0, 1], got {f!r}")
    names = [n for n, _ in vary]
    combos = list(itertools.product(*[v for _, v in vary])) or [()]
    cells = [Cell(t, q, a, s, f, aug, tuple(zip(names, combo)), tuple(shifts), options)
             for t, q, a, f, aug, combo, s in itertools.product(tasks, qualities, algos, fractions, augment,
                                                                   combos, seeds)]
    return list(dict.fromkeys(cells))

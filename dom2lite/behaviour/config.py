"""Hyper-parameters of the online behaviour learner (MATD3), with per-task defaults and the reasons.

The behaviour policies only have to *produce data* of four qualities (random, medium-replay, medium,
expert), so they are small and CPU-cheap: two hidden layers of 64 units for MPE, 128 for HalfCheetah,
and a few hundred thousand environment steps. OMAR (whose data-set recipe we follow) trained MATD3 for
millions of steps and recorded 1M transitions per data set; on the 2 CPU cores of this machine that
would take days, while the budgets below train each task in minutes to about an hour, in resumable
pieces. Explained in chapter 02 (the offline setting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from dom2lite.errors import ConfigError


@dataclass(frozen=True)
class MATD3Config:
    """Everything that shapes an online MATD3 run. Steps count joint transitions (one per env step)."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden sizes of every actor and critic (per agent; all agents run in one batched call)."""
    activation: str = "relu"
    """Hidden activation of actors and critics."""
    gamma: float = 0.95
    """Discount. 0.95 on 25-step MPE episodes (as MADDPG/OMAR), 0.99 on HalfCheetah."""
    tau: float = 0.01
    """Polyak rate of the target networks, applied at every actor (delayed) update."""
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    batch_size: int = 256
    buffer_size: int = 200_000
    """Replay capacity (joint transitions). Also bounds the checkpoint size (about 1 kB per transition on spread)."""
    n_envs: int = 8
    """Environments stepped in lock-step; one batched actor call per step serves all of them."""
    start_steps: int = 10_000
    """Uniform random actions for the first steps, to fill the buffer before learning starts."""
    updates_per_step: float = 0.25
    """Gradient updates per collected transition (update-to-data ratio); 0.25 keeps MPE training CPU-cheap."""
    exploration_std: float = 0.1
    """Std of the Gaussian noise added to the actor's [-1, 1] actions while collecting."""
    policy_noise: float = 0.2
    """Target-policy smoothing: std of the noise on the target action (TD3)."""
    noise_clip: float = 0.5
    """Target-policy smoothing: the noise is clipped to [-noise_clip, noise_clip]."""
    policy_delay: int = 2
    """Critic updates per actor (and target) update (TD3's delayed policy update)."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of actors and critics (0 disables)."""
    total_steps: int = 500_000
    """Default training length (joint transitions) when the command line does not give ``--steps``."""
    snapshot_every: int = 10_000
    """Save the actor and its evaluation return every this many steps (at the next episode boundary)."""
    checkpoint_every: int = 50_000
    """Write a resumable checkpoint every this many steps (at the next episode boundary)."""
    eval_episodes: int = 10
    """Episodes per snapshot evaluation (deterministic actor, fixed evaluation seeds)."""

    def __post_init__(self):
        positive = ("batch_size", "buffer_size", "n_envs", "policy_delay", "total_steps",
                    "snapshot_every", "checkpoint_every", "eval_episodes")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(name, f"must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError("gamma", f"must be in (0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ConfigError("tau", f"must be in (0, 1], got {self.tau}")
        for name in ("updates_per_step", "exploration_std", "policy_noise", "noise_clip", "start_steps",
                     "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ConfigError(name, f"must be >= 0, got {getattr(self, name)}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ConfigError("hidden", f"needs at least one positive size, got {self.hidden}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MATD3Config":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(unknown[0], "not a MATD3Config field")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(int(h) for h in d["hidden"])
        return cls(**d)


# Per-task overrides of the defaults above. The step budgets are what this CPU trains in reasonable
# time (measured steps/s are in the provenance of the shipped weights), far below OMAR's millions.
# ``total_steps`` is what the shipped weights were trained for (their provenance.json has the curve), so
# ``python -m dom2lite behaviour train --task T --seed 0`` with no ``--steps`` retrains them.
_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "spread": {"total_steps": 300_000},
    "tag": {"total_steps": 290_000},
    "world": {"n_envs": 8, "total_steps": 450_000},
    "halfcheetah": {
        "hidden": (128, 128),
        "gamma": 0.99,
        "tau": 0.005,
        "actor_lr": 3e-4,
        "critic_lr": 3e-4,
        "n_envs": 4,
        "updates_per_step": 0.5,
        "total_steps": 150_000,
        "snapshot_every": 20_000,
        "checkpoint_every": 40_000,
        "buffer_size": 300_000,
        "eval_episodes": 5,
    },
}

BEHAVIOUR_TASKS: tuple[str, ...] = tuple(_TASK_DEFAULTS)


def default_config(task: str, **overrides: Any) -> MATD3Config:
    """The defaults for ``task`` with ``overrides`` applied (unknown fields raise ``ConfigError``)."""
    if task not in _TASK_DEFAULTS:
        raise ConfigError("task", f"unknown task {task!r}; choose from {sorted(_TASK_DEFAULTS)}")
    cfg = MATD3Config(**_TASK_DEFAULTS[task])
    known = {f.name for f in fields(MATD3Config)}
    for key in overrides:
        if key not in known:
            raise ConfigError(key, "not a MATD3Config field")
    return replace(cfg, **overrides) if overrides else cfg

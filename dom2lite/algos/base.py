"""The interface every offline algorithm implements (the baselines and DOM2), and what they share.

An algorithm is a ``torch.nn.Module`` built from an environment spec and a config dataclass:

- ``update(batch) -> dict[str, float]``: one gradient step for all agents at once (losses, ``q_mean``,
  ``q_min``, ``q_max``, gradient norms); the metrics leave the device in one transfer.
- ``act(obs [B, n, obs_dim], deterministic=True) -> [B, n, act_dim]``: in [-1, 1], padded dims exactly 0.
  Each agent's action depends on its own observation only (decentralised execution).
- ``state_dict()`` / ``load_state_dict()``: everything needed to continue bit-identically — networks,
  target copies, optimisers, the update counter and the algorithm's own ``torch.Generator`` (every
  random number an algorithm draws comes from it, seeded by ``config.seed``). The payload holds only
  tensors and plain Python values, so it loads with ``torch.load(weights_only=True)``.
- ``config``: the resolved dataclass, recorded in run folders (``config.to_dict()``).

Network initialisation is seeded from ``config.seed`` too (inside :meth:`seeded_init`), so two
algorithms built with the same seed are identical whatever the global random state.

Members (seeds as a batch dimension, the Cost appendix): a spec with ``members = K`` builds one wide
algorithm for K independent runs side by side (built directly, its members share the constructor's
seed; :func:`dom2lite.members.algo.stack_members` gives each member its solo run's state). Its agent axis holds ``K * n`` slots, member-major, so
every per-agent network, gradient clip, multiplier and loss is already per member; what mixes agents
(centralised critics) mixes them within a member only, the generator is a
:class:`~dom2lite.members.rng.MemberGenerators` and metrics come back as one dict per member.
:func:`dom2lite.members.algo.stack_members` builds it from K solo algorithms, which keeps each member's
numbers those of its solo run.
Explained in chapter 05 (conservatism) and chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from dom2lite.device import resolve_device
from dom2lite.errors import CheckpointError, ConfigError
from dom2lite.members.rng import MemberGenerators
from dom2lite.nn.reduce import mean_over


class OfflineAlgorithm(nn.Module):
    """Base class: spec bookkeeping, the generator, seeded construction, state and metrics helpers.

    Subclasses set ``name`` and ``config_class``, build their networks inside ``with self.seeded_init():``,
    call ``self.finish_init(optimisers)``, and implement ``update`` and ``act``.
    """

    name: ClassVar[str] = "base"
    config_class: ClassVar[type] = object

    def __init__(self, spec, config=None, device: str | torch.device | None = None):
        super().__init__()
        if config is None:
            config = self.config_class()
        elif isinstance(config, dict):
            from dom2lite.algos.config import build_config

            config = build_config(self.config_class, config)
        if not isinstance(config, self.config_class):
            raise ConfigError("config", f"{self.name} needs a {self.config_class.__name__}, "
                                        f"got {type(config).__name__}")
        self.config = config
        self.device = resolve_device(device)
        self.members = int(getattr(spec, "members", 1))  # K independent runs side by side (see above)
        if self.members < 1:
            raise ConfigError("members", f"must be >= 1, got {self.members}")
        self.member_agents = int(spec.n_agents)  # n: agents of one member (the task's agents)
        self.n_agents = self.members * self.member_agents  # slots on the agent axis
        self.obs_dim = int(spec.obs_dim)
        self.act_dim = int(spec.act_dim)
        self.state_dim = int(spec.state_dim)
        mask = torch.as_tensor(np.asarray(spec.act_mask), dtype=torch.bool).repeat(self.members, 1)  # [K n, A]
        if mask.shape != (self.n_agents, self.act_dim):
            raise ConfigError("act_mask", f"shape {tuple(mask.shape)} != (n_agents, act_dim) = "
                                          f"({self.n_agents}, {self.act_dim})")
        if not bool(mask.any(-1).all()):
            raise ConfigError("act_mask", "every agent needs at least one real action dimension")
        self.register_buffer("act_mask", mask.to(self.device), persistent=False)  # [n, A] bool
        self.register_buffer("act_scale", mask.to(self.device, torch.float32), persistent=False)  # [n, A]
        self.act_dims = mask.sum(-1).to(self.device, torch.float32)  # [n] real action dims per agent
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(config.seed))
        if self.members > 1:  # one per member; stack_members gives each its solo run's state
            self.generator = MemberGenerators.seeded([int(config.seed) + k for k in range(self.members)], self.device)
        self.updates = 0
        self.optimisers: dict[str, torch.optim.Optimizer] = {}

    # ------------------------------------------------------------------------------ construction
    @contextlib.contextmanager
    def seeded_init(self) -> Iterator[None]:
        """Build networks here: the CPU random state is forked and seeded from ``config.seed``
        (an offset keeps it distinct from the generator's stream)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.config.seed) + 1_000_003)
            yield

    def finish_init(self, optimisers: dict[str, torch.optim.Optimizer]) -> None:
        self.optimisers = dict(optimisers)

    # ------------------------------------------------------------------------------ the interface
    def update(self, batch) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------------------ helpers
    def per_slot(self, values: torch.Tensor) -> torch.Tensor:
        """A per-member quantity ``[K]`` (e.g. ``reward_scale``) repeated for each member's agents:
        ``[K * n]``; a solo algorithm's 0-d value is returned as it is."""
        return values if self.members == 1 else values.repeat_interleave(self.member_agents)

    def reduce(self, x: torch.Tensor, how: str = "mean") -> torch.Tensor:
        """Reduce ``x`` (agent slots on its last axis) over everything: 0-d for a solo algorithm, one
        value per member ``[K]`` for members (``how``: mean | min | max). Both reduce rows of the same
        length in the same order, so a member logs exactly what its solo run logs."""
        per_member = x.reshape(*x.shape[:-1], self.members, self.member_agents).movedim(-2, 0)  # [K, ..., n]
        flat = per_member.reshape(self.members, -1)  # [K, rest]
        out = {"mean": flat.mean, "min": flat.amin, "max": flat.amax}[how](1)  # [K]
        return out.reshape(()) if self.members == 1 else out

    def as_obs(self, obs) -> torch.Tensor:
        """Validate and move observations ``[B, n, obs_dim]`` (a single ``[n, obs_dim]`` gets B = 1)."""
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if obs.dim() == 2:
            obs = obs.unsqueeze(0)
        if obs.dim() != 3 or obs.shape[1:] != (self.n_agents, self.obs_dim):
            raise ValueError(f"{self.name}.act expects obs [B, {self.n_agents}, {self.obs_dim}], "
                             f"got {tuple(obs.shape)}")
        return obs

    def masked_mse(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-agent mean squared error over the batch and the agent's real action dims: ``[n]``."""
        sq = ((pred - target) ** 2 * self.act_scale).sum(-1)  # [B, n]
        return mean_over(sq) / self.act_dims  # [n]

    def metrics(self, values: dict[str, torch.Tensor | float]) -> dict[str, float] | list[dict[str, float]]:
        """Turn 0-d tensors and floats into floats with one device-to-host transfer; for members, the
        tensors are ``[K]`` (from :meth:`reduce`) and the result is one dict per member."""
        k = self.members
        keys = list(values)
        shape = () if k == 1 else (k,)
        tensors = [v.detach().float().reshape(shape) if torch.is_tensor(v) else None for v in values.values()]
        stacked = [t for t in tensors if t is not None]
        host = torch.stack(stacked).tolist() if stacked else []  # [V] or [V][K]
        out: list[dict[str, float]] = [{} for _ in range(k)]
        i = 0
        for key, t in zip(keys, tensors):
            for m in range(k):
                out[m][key] = float(values[key]) if t is None else (host[i] if k == 1 else host[i][m])
            i += t is not None
        return out[0] if k == 1 else out

    # ------------------------------------------------------------------------------ state
    def state_dict(self, *args, **kwargs) -> dict[str, Any]:  # noqa: D401 - overrides nn.Module
        """Networks (with targets), optimisers, generator and counters; tensors and plain values only."""
        return {
            "algo": self.name,
            "modules": super().state_dict(),
            "optimisers": {k: opt.state_dict() for k, opt in self.optimisers.items()},
            "generator": self.generator.get_state(),
            "updates": int(self.updates),
        }

    def load_state_dict(self, state: dict[str, Any], strict: bool = True):
        for key in ("algo", "modules", "optimisers", "generator", "updates"):
            if key not in state:
                raise CheckpointError(None, key, f"missing from the {self.name} state")
        if state["algo"] != self.name:
            raise CheckpointError(None, "algo", f"state of {state['algo']!r} cannot load into {self.name!r}")
        result = super().load_state_dict(state["modules"], strict=strict)
        if set(state["optimisers"]) != set(self.optimisers):
            raise CheckpointError(None, "optimisers", f"{sorted(state['optimisers'])} != {sorted(self.optimisers)}")
        for k, opt in self.optimisers.items():
            opt.load_state_dict(state["optimisers"][k])
        gen = state["generator"]
        self.generator.set_state(gen if self.members > 1 else torch.as_tensor(gen).cpu())
        self.updates = int(state["updates"])
        return result

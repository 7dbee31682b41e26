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
        self.n_agents = int(spec.n_agents)
        self.obs_dim = int(spec.obs_dim)
        self.act_dim = int(spec.act_dim)
        self.state_dim = int(spec.state_dim)
        mask = torch.as_tensor(np.asarray(spec.act_mask), dtype=torch.bool)
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
        return sq.mean(0) / self.act_dims  # [n]

    @staticmethod
    def metrics(values: dict[str, torch.Tensor | float]) -> dict[str, float]:
        """Turn 0-d tensors and floats into floats with one device-to-host transfer."""
        keys = list(values)
        tensors = [v.detach().float().reshape(()) if torch.is_tensor(v) else None for v in values.values()]
        stacked = [t for t in tensors if t is not None]
        host = torch.stack(stacked).tolist() if stacked else []
        out, i = {}, 0
        for key, t in zip(keys, tensors):
            if t is None:
                out[key] = float(values[key])
            else:
                out[key] = host[i]
                i += 1
        return out

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
        self.generator.set_state(torch.as_tensor(state["generator"]).cpu())
        self.updates = int(state["updates"])
        return result

"""Behaviour cloning: each agent's deterministic actor regressed on the data-set actions.

Loss of agent j: ``E_{(o, a) ~ D} || pi_j(o_j) - a_j ||^2 / d_j`` over its ``d_j`` real action dims. The
simplest offline baseline: it copies the data, good and bad, and never looks at a reward.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import torch

from dom2lite.algos.actor import DeterministicActor
from dom2lite.algos.base import OfflineAlgorithm
from dom2lite.algos.config import BCConfig
from dom2lite.algos.grad import clip_grad_norm_per_agent


class BC(OfflineAlgorithm):
    name = "bc"
    config_class = BCConfig

    def __init__(self, spec, config: BCConfig | None = None, device=None):
        super().__init__(spec, config, device)
        cfg = self.config
        with self.seeded_init():
            self.actor = DeterministicActor(self.n_agents, self.obs_dim, self.act_dim, self.act_scale.cpu(),
                                            cfg.hidden, cfg.activation)
        self.to(self.device)
        self.finish_init({"actor": torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)})

    def update(self, batch) -> dict[str, float]:
        batch = batch.to(self.device)
        pi = self.actor(batch.obs)  # [B, n, A]
        loss_per_agent = self.masked_mse(pi, batch.act)  # [n]
        opt = self.optimisers["actor"]
        opt.zero_grad(set_to_none=True)
        loss_per_agent.sum().backward()
        norms = clip_grad_norm_per_agent(self.actor.parameters(), self.n_agents, self.config.grad_clip)
        opt.step()
        self.updates += 1
        return self.metrics({"bc_loss": self.reduce(loss_per_agent), "actor_grad_norm": self.reduce(norms)})

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True) -> torch.Tensor:
        """The actor's action; deterministic actors ignore ``deterministic``."""
        return self.actor(self.as_obs(obs))  # [B, n, A]

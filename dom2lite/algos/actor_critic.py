"""The TD3 family shared by MA-TD3+BC, MA-CQL and OMAR: deterministic actors, twin critics, targets.

One ``update`` does, for all agents at once:

1. target actions ``a' = clip(pi'(o') + clip(eps, -c, c), -1, 1)``, ``eps ~ N(0, policy_noise^2)``
   (no smoothing when ``policy_noise = 0``, as in OMAR's code);
2. TD targets ``y_j = r_j + gamma (1 - terminated) min(Q'_{j,1}, Q'_{j,2})(o', a')`` — truncation is
   not terminal;
3. critic loss ``sum_j [ mean (Q_{j,1} - y_j)^2 + mean (Q_{j,2} - y_j)^2 + penalty_j ]``, where
   ``penalty_j`` is the subclass's regulariser (CQL's, or none);
4. every ``policy_delay`` updates: the subclass's actor loss, summed over agents (each agent's
   parameters get exactly its own loss's gradient), then Polyak updates of the target actor and critics.

Subclasses override :meth:`critic_penalty` and :meth:`actor_loss`. Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import torch

from dom2lite.algos.actor import DeterministicActor
from dom2lite.algos.base import OfflineAlgorithm
from dom2lite.algos.config import ActorCriticConfig
from dom2lite.algos.grad import clip_grad_norm_per_agent
from dom2lite.critics.targets import frozen_copy, polyak_update, td_target
from dom2lite.critics.twin_q import TwinQ
from dom2lite.members import rng as draws
from dom2lite.nn.reduce import mean_over


class ActorCritic(OfflineAlgorithm):
    """Deterministic actors + twin critics (``critic_input`` switch) + target copies of both."""

    name = "actor_critic"
    config_class = ActorCriticConfig

    def __init__(self, spec, config=None, device=None):
        super().__init__(spec, config, device)
        cfg = self.config
        with self.seeded_init():
            self.actor = self.build_actor()
            self.critic = TwinQ(self.n_agents, self.obs_dim, self.act_dim, self.state_dim, cfg.critic_input,
                                cfg.hidden, cfg.activation, cfg.twin_layout, members=self.members,
                                norm=cfg.critic_norm)
        self.actor_target = frozen_copy(self.actor)
        self.critic_target = frozen_copy(self.critic)
        # rewards are multiplied by this before the critics see them (``reward_norm``; set from the data
        # by ``set_reward_scale``); a buffer, so checkpoints carry it and a loaded critic reads the same;
        # one per member ``[K]`` for members (a data fraction depends on the seed, and so does its scale)
        self.register_buffer("reward_scale", torch.ones(()) if self.members == 1 else torch.ones(self.members))
        self.to(self.device)
        self.finish_init({
            "actor": torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr),
        })

    def set_reward_scale(self, scale: float) -> None:
        """Fix the factor applied to every reward (before the first update; see ``reward_norm``)."""
        if not scale > 0:
            raise ValueError(f"reward scale must be > 0, got {scale}")
        self.reward_scale.fill_(float(scale))  # members: the same factor for all (stacking sets each one's)

    def start_q_at(self, value: torch.Tensor) -> None:
        """Shift the critics and their targets so that Q starts near ``value [n]`` per agent, in raw reward
        units (``q_init="data_return"``: the data's mean Monte-Carlo return); call before the first update.
        A critic that starts at zero needs many target updates to reach returns far from zero."""
        offset = torch.as_tensor(value, dtype=torch.float32, device=self.device) * self.per_slot(self.reward_scale)
        self.critic.shift_output(offset)
        self.critic_target.load_state_dict(self.critic.state_dict())

    # ------------------------------------------------------------------------------ hooks
    def build_actor(self) -> torch.nn.Module:
        """The actor network (called inside ``seeded_init``): here deterministic tanh actors."""
        cfg = self.config
        return DeterministicActor(self.n_agents, self.obs_dim, self.act_dim, self.act_scale.cpu(),
                                  cfg.hidden, cfg.activation)

    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        """The current policy's actions ``[B, n, A]`` at ``obs``, differentiable in the actor's parameters."""
        return self.actor(obs)

    def update_targets(self) -> None:
        """Move the target actor and critics towards the online networks (after each actor update)."""
        polyak_update(self.actor_target, self.actor, self.config.tau)
        polyak_update(self.critic_target, self.critic, self.config.tau)

    def critic_penalty(self, batch, q1: torch.Tensor, q2: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Regulariser added to the critic loss, per agent ``[n]``, and metrics (none here)."""
        return torch.zeros(self.n_agents, device=self.device), {}

    def actor_loss(self, batch, pi: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Per-agent actor loss ``[n]`` for the policy actions ``pi [B, n, A]``: here ``-Q_1`` plus the
        optional action-magnitude term."""
        q_pi = self.critic.q1(batch.obs, pi, batch.state, others=batch.act)  # [B, n]
        return -mean_over(q_pi) + self.action_penalty(pi), {}

    def td3bc_actor_loss(self, batch, pi: torch.Tensor, alpha: float) -> tuple[torch.Tensor, dict]:
        """TD3+BC's actor loss ``[n]``: ``-lambda_j mean_B Q_{j,1}(o, pi) + mean_B ||pi_j - a_j||^2 / d_j``
        with ``lambda_j = alpha / mean_B |Q_{j,1}|`` (not differentiated), so that ``alpha`` means the same at
        any reward scale (MA-TD3+BC; MA-CQL with ``cql_actor_bc``)."""
        q_pi = self.critic.q1(batch.obs, pi, batch.state, others=batch.act)  # [B, n]
        lam = alpha / mean_over(q_pi.abs()).detach().clamp_min(1e-6)  # [n]
        bc = self.masked_mse(pi, batch.act)  # [n]
        loss = -lam * mean_over(q_pi) + bc + self.action_penalty(pi)  # [n]
        return loss, {"bc_loss": self.reduce(bc), "lambda": self.reduce(lam)}

    # ------------------------------------------------------------------------------ pieces
    def action_penalty(self, pi: torch.Tensor) -> torch.Tensor:
        """``act_reg * mean(a^2)`` over each agent's real dims: ``[n]`` (OMAR's code uses 1e-3)."""
        if self.config.act_reg == 0:
            return torch.zeros(self.n_agents, device=pi.device)
        return self.config.act_reg * mean_over((pi.pow(2) * self.act_scale).sum(-1)) / self.act_dims

    @torch.no_grad()
    def target_actions(self, next_obs: torch.Tensor) -> torch.Tensor:
        """Target-policy actions at ``o'`` with TD3's clipped smoothing noise: ``[B, n, A]``."""
        a = self.actor_target(next_obs)  # [B, n, A]
        cfg = self.config
        if cfg.policy_noise > 0:
            eps = draws.randn(a.shape, self.generator, -2, device=a.device, dtype=a.dtype)  # [B, n, A]
            eps = (cfg.policy_noise * eps).clamp(-cfg.noise_clip, cfg.noise_clip)
            a = (a + eps).clamp(-1.0, 1.0) * self.act_scale
        return a

    # ------------------------------------------------------------------------------ the step
    def update(self, batch) -> dict[str, float]:
        batch = batch.to(self.device)
        cfg = self.config
        with torch.no_grad():
            a_next = self.target_actions(batch.next_obs)  # [B, n, A]
            q1_t, q2_t = self.critic_target(batch.next_obs, a_next, batch.next_state)  # [B, n] each
            y = td_target(batch.rew * self.per_slot(self.reward_scale), batch.terminated, q1_t, q2_t, cfg.gamma)

        q1, q2 = self.critic(batch.obs, batch.act, batch.state)  # [B, n] each
        td = mean_over((q1 - y).pow(2)) + mean_over((q2 - y).pow(2))  # [n]
        penalty, pen_metrics = self.critic_penalty(batch, q1, q2)  # [n]
        c_opt = self.optimisers["critic"]
        c_opt.zero_grad(set_to_none=True)
        (td + penalty).sum().backward()
        c_norm = clip_grad_norm_per_agent(self.critic.parameters(), self.n_agents, cfg.grad_clip)
        c_opt.step()
        self.updates += 1

        actor_metrics: dict[str, torch.Tensor] = {}  # only on steps that update the actor
        if self.updates % cfg.policy_delay == 0:
            pi = self.policy(batch.obs)  # [B, n, A]
            a_loss, a_metrics = self.actor_loss(batch, pi)  # [n]
            a_opt = self.optimisers["actor"]
            a_opt.zero_grad(set_to_none=True)
            actor_params = list(self.actor.parameters())
            a_loss.sum().backward(inputs=actor_params)  # critic gradients are not accumulated
            a_norm = clip_grad_norm_per_agent(actor_params, self.n_agents, cfg.grad_clip)
            a_opt.step()
            self.update_targets()
            actor_metrics = {"actor_loss": self.reduce(a_loss.detach()), "actor_grad_norm": self.reduce(a_norm),
                             **{k: v.detach() for k, v in a_metrics.items()}}

        q_data = torch.stack([q1, q2]).detach()  # [2, B, n]
        return self.metrics({  # each reduced over batch and agents: one value (per member)
            "critic_loss": self.reduce((td + penalty).detach()),
            "td_loss": self.reduce(td.detach()) / 2,
            **{k: v.detach() for k, v in pen_metrics.items()},
            "q_mean": self.reduce(q1.detach()),
            "q_min": self.reduce(q_data, "min"),
            "q_max": self.reduce(q_data, "max"),
            "target_mean": self.reduce(y),
            "critic_grad_norm": self.reduce(c_norm),
            **actor_metrics,
        })

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True) -> torch.Tensor:
        """The actor's action ``[B, n, A]``; deterministic actors ignore ``deterministic``."""
        return self.actor(self.as_obs(obs))

"""MATD3: the online learner that trains the behaviour policies whose rollouts become the data sets.

Centralised training, decentralised execution (Ackermann et al. 2019, TD3 extended to many agents):

- actor  mu_j(o_j) -> a_j in [-1, 1] (tanh), one per agent, all agents in one ``AgentMLP`` call;
- twin critics Q_{j,1}, Q_{j,2}(s, a_1..a_n) per agent on the global state and the joint action;
- target  y_j = r_j + gamma (1 - terminated) min_k Q'_{j,k}(s', a'),  a' = clip(mu'(o') + clip(eps)),
  eps ~ N(0, policy_noise^2) clipped to +-noise_clip (target-policy smoothing);
- actor loss  -Q_{j,1}(s, a_1..mu_j(o_j)..a_n): agent j's own action comes from its actor, the others'
  from the buffer; actors and targets are updated every ``policy_delay`` critic updates.

Truncation (the 25-step MPE limit) is not a terminal: only ``terminated`` stops the bootstrap.
Explained in chapter 02 (the offline setting: where the data come from).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dom2lite.behaviour.config import MATD3Config
from dom2lite.data.batch import Batch
from dom2lite.nn.agent_mlp import AgentMLP


class TwinCritic(nn.Module):
    """Two centralised critics per agent, evaluated for all ``2 n`` heads in one batched call.

    Input: the state ``[B, state_dim]`` and one joint action per agent ``[B, n, n * act_dim]`` (agents may
    see different joint actions, as in the actor loss). Output: ``q1, q2`` each ``[B, n]``.
    """

    def __init__(self, n_agents: int, state_dim: int, act_dim: int, hidden, activation: str):
        super().__init__()
        self.n_agents = n_agents
        self.net = AgentMLP(2 * n_agents, state_dim + n_agents * act_dim, 1, hidden, activation)

    def forward(self, state: torch.Tensor, joint_act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.n_agents
        x = torch.cat([state.unsqueeze(1).expand(-1, n, -1), joint_act], dim=-1)  # [B, n, S + n*A]
        q = self.net(torch.cat([x, x], dim=1)).squeeze(-1)  # [B, 2n]
        return q[:, :n], q[:, n:]


def same_joint_action(act: torch.Tensor) -> torch.Tensor:
    """Every agent's critic sees the same joint action: ``[B, n, A] -> [B, n, n * A]``."""
    b, n, a = act.shape
    return act.reshape(b, 1, n * a).expand(b, n, n * a)


def own_action_replaced(act_buffer: torch.Tensor, act_policy: torch.Tensor) -> torch.Tensor:
    """Joint action for agent j's actor loss: slot j from the policy, the other slots from the buffer.

    ``act_buffer, act_policy: [B, n, A]`` -> ``[B, n, n * A]`` where row j is
    ``(a_1, .., mu_j(o_j), .., a_n)``. The gradient of row j reaches only agent j's action.
    """
    b, n, a = act_buffer.shape
    eye = torch.eye(n, dtype=torch.bool, device=act_buffer.device).unsqueeze(-1)  # [n, n, 1]
    joint = torch.where(eye, act_policy.unsqueeze(1), act_buffer.unsqueeze(1))  # [B, n(critic), n(slot), A]
    return joint.reshape(b, n, n * a)


def td3_target(
    rew: torch.Tensor, terminated: torch.Tensor, q1_next: torch.Tensor, q2_next: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``y = r + gamma (1 - terminated) min(Q'_1, Q'_2)``; rew, q*: ``[B, n]``, terminated: ``[B]``."""
    return rew + gamma * (1.0 - terminated).unsqueeze(-1) * torch.minimum(q1_next, q2_next)


def smoothed_target_action(
    act_target: torch.Tensor, act_mask: torch.Tensor, policy_noise: float, noise_clip: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TD3's target-policy smoothing: add clipped Gaussian noise, clip to [-1, 1], zero padded dims."""
    noise = torch.randn(act_target.shape, generator=generator, device=act_target.device) * policy_noise
    noise = noise.clamp(-noise_clip, noise_clip)
    return (act_target + noise).clamp(-1.0, 1.0) * act_mask  # [B, n, A]


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging ``target <- (1 - tau) target + tau source``."""
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)


class MATD3:
    """Actors, twin critics, their targets and optimisers for all agents, plus the learner's own RNG.

    Deterministic for a seed: networks are initialised from ``seed`` and every random draw in
    ``update`` uses the learner's ``torch.Generator`` (saved in ``state_dict``).
    """

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        act_dim: int,
        state_dim: int,
        act_mask: np.ndarray,
        config: MATD3Config,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ):
        self.config, self.device = config, torch.device(device)
        self.n_agents, self.obs_dim, self.act_dim, self.state_dim = n_agents, obs_dim, act_dim, state_dim
        self.act_mask = torch.as_tensor(np.asarray(act_mask, dtype=np.float32), device=self.device)  # [n, A]
        if tuple(self.act_mask.shape) != (n_agents, act_dim):
            raise ValueError(f"act_mask must be [{n_agents}, {act_dim}], got {tuple(self.act_mask.shape)}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = make_actor(n_agents, obs_dim, act_dim, config).to(self.device)
            self.critic = TwinCritic(n_agents, state_dim, act_dim, config.hidden, config.activation).to(self.device)
        self.actor_target = make_actor(n_agents, obs_dim, act_dim, config).to(self.device)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target = TwinCritic(n_agents, state_dim, act_dim, config.hidden, config.activation).to(self.device)
        self.critic_target.load_state_dict(self.critic.state_dict())
        for p in [*self.actor_target.parameters(), *self.critic_target.parameters()]:
            p.requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed + 1)
        self.n_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions ``[..., n, act_dim]`` in [-1, 1] (padded dims zero) for numpy ``obs``."""
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        lead = x.shape[:-2]
        a = self.actor(x.reshape(-1, self.n_agents, self.obs_dim)) * self.act_mask
        return a.reshape(*lead, self.n_agents, self.act_dim).cpu().numpy()

    def _clip(self, params) -> float:
        if self.config.max_grad_norm > 0:
            return float(nn.utils.clip_grad_norm_(params, self.config.max_grad_norm))
        return float("nan")

    def update(self, batch: Batch) -> dict[str, float]:
        """One critic update for every agent, and (every ``policy_delay``) one actor + target update."""
        cfg = self.config
        with torch.no_grad():
            next_act = smoothed_target_action(self.actor_target(batch.next_obs), self.act_mask,
                                              cfg.policy_noise, cfg.noise_clip, self.generator)  # [B, n, A]
            q1_next, q2_next = self.critic_target(batch.next_state, same_joint_action(next_act))
            y = td3_target(batch.rew, batch.terminated, q1_next, q2_next, cfg.gamma)  # [B, n]
        q1, q2 = self.critic(batch.state, same_joint_action(batch.act))  # [B, n] each
        # mean over the batch, sum over agents: every agent's critic gets its own mean-squared error
        critic_loss = ((q1 - y).pow(2) + (q2 - y).pow(2)).mean(0).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_grad = self._clip(self.critic.parameters())
        self.critic_opt.step()
        self.n_updates += 1
        metrics = {"critic_loss": critic_loss.item(), "q_mean": q1.detach().mean().item(), "critic_grad": critic_grad}
        if self.n_updates % cfg.policy_delay == 0:
            act_pi = self.actor(batch.obs) * self.act_mask  # [B, n, A]
            q_pi, _ = self.critic(batch.state, own_action_replaced(batch.act, act_pi))  # [B, n]
            actor_loss = -q_pi.mean(0).sum()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            metrics["actor_grad"] = self._clip(self.actor.parameters())
            self.actor_opt.step()
            self.critic_opt.zero_grad(set_to_none=True)  # the actor loss also reached the critic
            soft_update(self.actor_target, self.actor, cfg.tau)
            soft_update(self.critic_target, self.critic, cfg.tau)
            metrics["actor_loss"] = actor_loss.item()
        return metrics

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "generator": self.generator.get_state(), "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt"):
            getattr(self, name).load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        self.n_updates = int(state["n_updates"])


def make_actor(n_agents: int, obs_dim: int, act_dim: int, config: MATD3Config) -> AgentMLP:
    """The decentralised actors: ``[B, n, obs_dim] -> [B, n, act_dim]`` in [-1, 1] (tanh output)."""
    return AgentMLP(n_agents, obs_dim, act_dim, config.hidden, config.activation, out_activation="tanh")

"""A plain DOM2 training step written the usual way: the yardstick of ``bench_dom2.py``.

One ``nn.Sequential`` per network and per agent, agents updated one after another in a Python loop,
Mish activations, Diffusion-QL's structure (a ``Diffusion`` actor wrapping a noise-prediction MLP with a
sinusoidal time embedding, a ``Critic`` holding two Q networks, Polyak and EMA copies by parameter
loops). It does the same maths as ``dom2lite.algos.dom2.DOM2.update`` with ``cql_alpha = 0``:

- the same layer sizes (``[a_n, o, emb(n)] -> hidden -> act_dim``; time MLP ``t -> 2t -> t``; critics
  ``[o, a] -> hidden -> 1``, two per agent) and the same number of network passes:
  target actions from the EMA actor through the N-step first-order DPM-Solver (= DDIM) chain without
  gradients, both target heads, both online heads with backward, the chain again with gradients for
  the actor plus one noise-prediction pass, and the first critic head on the sampled actions;
- the same losses: TD error of both heads against ``r + gamma (1 - d) min Q'``; actor loss
  ``noise loss - eta * E[Q_1] / E|Q_1|`` (denominator detached); clean-sample predictions clipped to
  [-1, 1] at every sampler step; gradient-norm clipping per agent; Adam; Polyak critics every step,
  EMA actor every ``ema_every`` steps (a plain copy during the first ``ema_start`` updates).

Like dom2lite, the actor's backward asks for the actor's gradients only (``inputs=``), so neither side
spends time on critic weight gradients that are thrown away. The benchmark only times this code; the
test ``tests/test_benchmarks.py`` checks that, with dom2lite's weights copied in, it computes the same
actions, noise loss and Q values.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


def vp_alpha_bar(n_steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> torch.Tensor:
    """Diffusion-QL's VP schedule: ``alpha_bar_n`` for n = 0..N (float64, ``alpha_bar_0 = 1``)."""
    t = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    return torch.exp(-(beta_min * t + 0.5 * (beta_max - beta_min) * t**2))


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # [B] -> [B, dim]
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000.0) / (half - 1)))
        angles = t.float()[:, None] * freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with Mish between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(nn.Mish())
    return nn.Sequential(*layers)


class EpsMLP(nn.Module):
    """``eps(x_n, o, n)`` of one agent: ``[x_n, o, time_mlp(emb(n))]`` through an MLP."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: list[int], t_dim: int = 16):
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(t_dim), nn.Linear(t_dim, 2 * t_dim), nn.Mish(),
                                      nn.Linear(2 * t_dim, t_dim))
        self.mid = mlp([act_dim + obs_dim + t_dim, *hidden, act_dim])

    def forward(self, x: torch.Tensor, n: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return self.mid(torch.cat([x, obs, self.time_mlp(n)], dim=-1))  # [B, act_dim]


class Diffusion(nn.Module):
    """One agent's diffusion policy: noise-prediction loss and the DDIM sampler with clipped ``x0``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: list[int], n_steps: int = 5, t_dim: int = 16):
        super().__init__()
        self.act_dim, self.n_steps = act_dim, n_steps
        self.model = EpsMLP(obs_dim, act_dim, hidden, t_dim)
        alpha_bar = vp_alpha_bar(n_steps)
        self.register_buffer("sqrt_ab", alpha_bar.sqrt().float())  # [N+1]
        self.register_buffer("sqrt_1m_ab", (1.0 - alpha_bar).sqrt().float())  # [N+1]
        self.alpha, self.sigma = alpha_bar.sqrt().tolist(), (1.0 - alpha_bar).sqrt().tolist()

    def sample(self, obs: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Actions ``[B, act_dim]``: DDIM from ``x_N`` (default: fresh noise) down to ``x_0``."""
        if x is None:
            x = torch.randn(obs.shape[0], self.act_dim, device=obs.device)
        for n in range(self.n_steps, 0, -1):
            steps = torch.full((obs.shape[0],), float(n), device=obs.device)
            eps = self.model(x, steps, obs)
            x0 = ((x - self.sigma[n] * eps) / self.alpha[n]).clamp(-1.0, 1.0)
            if n > 1:  # x_{n-1} = alpha x0 + sigma * (the noise that x0 implies)
                eps = (x - self.alpha[n] * x0) / self.sigma[n]
                x = self.alpha[n - 1] * x0 + self.sigma[n - 1] * eps
            else:
                x = x0
        return x.clamp(-1.0, 1.0)

    def loss(self, act: torch.Tensor, obs: torch.Tensor, n: torch.Tensor | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        """``E || noise - eps(sqrt(ab_n) a + sqrt(1 - ab_n) noise, o, n) ||^2``, ``n ~ U{1..N}``."""
        if n is None:
            n = torch.randint(1, self.n_steps + 1, (act.shape[0],), device=act.device)
        if noise is None:
            noise = torch.randn_like(act)
        x_n = self.sqrt_ab[n, None] * act + self.sqrt_1m_ab[n, None] * noise
        return F.mse_loss(self.model(x_n, n, obs), noise)


class Critic(nn.Module):
    """Twin Q networks of one agent on ``[o, a]``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: list[int]):
        super().__init__()
        self.q1_model = mlp([obs_dim + act_dim, *hidden, 1])
        self.q2_model = mlp([obs_dim + act_dim, *hidden, 1])

    def forward(self, obs, act):
        x = torch.cat([obs, act], dim=-1)
        return self.q1_model(x).squeeze(-1), self.q2_model(x).squeeze(-1)  # [B], [B]

    def q1(self, obs, act):
        return self.q1_model(torch.cat([obs, act], dim=-1)).squeeze(-1)  # [B]


class ReferenceAgent:
    """Actor, EMA actor, critic, target critic and their optimisers for one agent."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: list[int], n_steps: int, lr: float = 3e-4):
        self.actor = Diffusion(obs_dim, act_dim, hidden, n_steps)
        self.ema_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = Critic(obs_dim, act_dim, hidden)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=lr)


class ReferenceDOM2:
    """``update(batch)`` trains every agent in turn; ``act(obs [B, n, obs_dim])`` samples with the EMA actors."""

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, hidden=(256, 256, 256), n_steps: int = 5,
                 gamma: float = 0.95, tau: float = 0.005, eta: float = 1.0, grad_clip: float = 1.0,
                 ema_decay: float = 0.995, ema_every: int = 5, ema_start: int = 1000, seed: int = 0):
        torch.manual_seed(seed)
        self.agents = [ReferenceAgent(obs_dim, act_dim, list(hidden), n_steps) for _ in range(n_agents)]
        self.gamma, self.tau, self.eta, self.grad_clip = gamma, tau, eta, grad_clip
        self.ema_decay, self.ema_every, self.ema_start = ema_decay, ema_every, ema_start
        self.step = 0

    def update(self, batch) -> dict[str, float]:
        self.step += 1
        not_done = 1.0 - batch.terminated  # [B]
        logs = {"critic_loss": 0.0, "actor_loss": 0.0}
        for j, ag in enumerate(self.agents):
            obs, act, next_obs = batch.obs[:, j], batch.act[:, j], batch.next_obs[:, j]  # [B, O], [B, A]
            # critic
            with torch.no_grad():
                next_act = ag.ema_actor.sample(next_obs)
                tq1, tq2 = ag.critic_target(next_obs, next_act)
                target = batch.rew[:, j] + not_done * self.gamma * torch.min(tq1, tq2)
            q1, q2 = ag.critic(obs, act)
            critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
            ag.critic_opt.zero_grad()
            critic_loss.backward()
            if self.grad_clip > 0:
                nn.utils.clip_grad_norm_(ag.critic.parameters(), self.grad_clip)
            ag.critic_opt.step()
            # actor
            bc_loss = ag.actor.loss(act, obs)
            q_new = ag.critic.q1(obs, ag.actor.sample(obs))
            actor_loss = bc_loss - self.eta * q_new.mean() / q_new.abs().mean().detach()
            ag.actor_opt.zero_grad()
            actor_loss.backward(inputs=list(ag.actor.parameters()))
            if self.grad_clip > 0:
                nn.utils.clip_grad_norm_(ag.actor.parameters(), self.grad_clip)
            ag.actor_opt.step()
            # targets
            with torch.no_grad():
                for p, tp in zip(ag.critic.parameters(), ag.critic_target.parameters()):
                    tp.data.copy_(self.tau * p.data + (1.0 - self.tau) * tp.data)
                if self.step % self.ema_every == 0:
                    rate = 1.0 if self.step < self.ema_start else 1.0 - self.ema_decay
                    for p, ep in zip(ag.actor.parameters(), ag.ema_actor.parameters()):
                        ep.data.copy_(rate * p.data + (1.0 - rate) * ep.data)
            logs["critic_loss"] += critic_loss.item() / len(self.agents)
            logs["actor_loss"] += actor_loss.item() / len(self.agents)
        return logs

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([ag.ema_actor.sample(obs[:, j]) for j, ag in enumerate(self.agents)], dim=1)

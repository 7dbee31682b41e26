"""DOM2 (Li, Pan, Huang 2023, arXiv 2307.01472): diffusion actors on conservative critics, trained CTDE.

Every agent j has a noise-prediction network eps_j(a_n, o_j, n) — a policy over actions given only its
own observation — and twin critics with the CQL(H) regulariser (exactly MA-CQL's, see
:mod:`dom2lite.algos.cql`). One ``update`` trains all agents at once:

1. critics: ``y_j = r_j + gamma (1 - terminated) min_k Q'_{j,k}(o', a')`` with ``a'`` sampled from the
   EMA actor by first-order DPM-Solver in N steps (no gradient), TD loss + ``cql_alpha`` * CQL(H);
2. actors (Diffusion-QL's loss per agent):
   ``L_j = E || eps - eps_j(alpha_n a + sigma_n eps, o_j, n) ||^2  -  eta * E[Q_{j,1}(o, a^0)] / E|Q_{j,1}(o, a^0)|``
   where ``a^0`` is sampled through the whole N-step chain *with* gradients and the denominator is
   detached (so ``eta`` means the same at any reward scale);
3. targets: the critics' Polyak copies move by ``tau`` every update; the EMA actor by ``1 - ema_decay``
   every ``ema_every`` updates (a plain copy during the first ``ema_start`` updates).

Execution is decentralised: ``act`` samples each agent's action from its own observation with the EMA
actor. ``act(deterministic=True)`` starts every chain from noise drawn by a fresh generator seeded with
``config.seed`` (kept with the weights), so the policy is a fixed function of the observation and the
training generator is not touched; ``deterministic=False`` draws from the algorithm's generator.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import torch

from dom2lite.algos.config import DOM2Config
from dom2lite.algos.cql import MACQL
from dom2lite.critics.targets import polyak_update
from dom2lite.diffusion import EpsModel, make_schedule, noise_prediction_loss, sample
from dom2lite.members.rng import MemberGenerators
from dom2lite.nn.reduce import mean_over


class DOM2(MACQL):
    name = "dom2"
    config_class = DOM2Config

    def build_actor(self) -> torch.nn.Module:
        cfg = self.config
        self.schedule = make_schedule(cfg.schedule, cfg.n_diffusion_steps)
        # the seed of act(deterministic=True)'s starting noise: saved with the weights, so a loaded policy
        # acts exactly as the saved one did
        seed = torch.tensor(int(cfg.seed), dtype=torch.int64)
        self.register_buffer("act_seed", seed if self.members == 1 else seed.repeat(self.members))  # [] or [K]
        return EpsModel(self.n_agents, self.obs_dim, self.act_dim, hidden=cfg.hidden, activation=cfg.activation,
                        t_dim=cfg.t_dim, act_mask=self.act_mask.cpu())

    def _sample(self, model, obs: torch.Tensor, generator: torch.Generator, acting: bool = False) -> torch.Tensor:
        """Actions ``[B, n, A]`` in [-1, 1] from ``model`` through the N-step chain (gradients as the caller allows).

        The mask is the model's own ``act_mask`` (skipped when nothing is padded). ``acting``: the model
        reuses its step embedding across calls (:class:`EpsModel`); training keeps the per-row form, so
        its numbers do not depend on how often the policy acted."""
        return sample(model, self.schedule, obs, solver=self.config.solver, generator=generator, scalar_steps=acting)

    # ------------------------------------------------------------------------------ hooks of ActorCritic
    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        return self._sample(self.actor, obs, self.generator)  # [B, n, A], differentiable

    @torch.no_grad()
    def target_actions(self, next_obs: torch.Tensor) -> torch.Tensor:
        return self._sample(self.actor_target, next_obs, self.generator)  # [B, n, A] from the EMA actor

    def actor_loss(self, batch, pi: torch.Tensor) -> tuple[torch.Tensor, dict]:
        bc = noise_prediction_loss(self.actor, self.schedule, batch.act, batch.obs, generator=self.generator,
                                   mask=self.act_mask, reduction="agent")  # [n]
        q_pi = self.critic.q1(batch.obs, pi, batch.state, others=batch.act)  # [B, n]
        q_scale = mean_over(q_pi.abs()).detach().clamp_min(1e-6)  # [n]
        q_term = -mean_over(q_pi) / q_scale  # [n]
        return bc + self.config.eta * q_term, {"noise_loss": self.reduce(bc), "q_term": self.reduce(q_term)}

    def update_targets(self) -> None:
        cfg = self.config
        polyak_update(self.critic_target, self.critic, cfg.tau)
        if self.updates % cfg.ema_every == 0:
            rate = 1.0 if self.updates < cfg.ema_start else 1.0 - cfg.ema_decay
            polyak_update(self.actor_target, self.actor, rate)

    # ------------------------------------------------------------------------------ execution
    def act(self, obs, deterministic: bool = True) -> torch.Tensor:
        """Joint actions ``[B, n, A]`` for observations ``[B, n, obs_dim]`` (or ``[n, obs_dim]``).

        Runs under ``torch.inference_mode``, which skips the autograd bookkeeping that ``no_grad`` still
        does on every operation (it shows at batch 1: the Cost appendix); the result is cloned outside
        it, so callers get an ordinary tensor."""
        obs = self.as_obs(obs)
        if deterministic:
            made_for, gen = getattr(self, "_act_generator", (None, None))
            if made_for != self.device:  # one generator, re-seeded each call (making one costs microseconds)
                gen = torch.Generator(device=self.device)
                if self.members > 1:  # each member's chains start from its own seed's noise
                    gen = MemberGenerators([torch.Generator(device=self.device) for _ in range(self.members)])
                self._act_generator = (self.device, gen)
            generator = gen.manual_seed(int(self.act_seed) if self.members == 1 else self.act_seed.tolist())
        else:
            generator = self.generator
        with torch.inference_mode():
            out = self._sample(self.actor_target, obs, generator, acting=True)
        return out.clone()  # [B, n, A]

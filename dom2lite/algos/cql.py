"""MA-CQL: CQL(H)-regularised twin critics per agent with TD3-style deterministic actors.

This is the MA-CQL baseline of OMAR (and of DOM2's tables): every agent's critics get

    cql_alpha * ( soft-max of Q over actions  -  Q(o, a_data) )

on top of the TD loss (:mod:`dom2lite.critics.cql`), estimated from ``cql_n_actions`` uniform actions
and, with ``cql_policy_actions``, as many noisy current-policy actions at o and at o'. All sampled
actions of all agents are scored in one batched critic call ``[M * B, n, in]``; with the ``joint``
critic input the other agents' slots hold their data-set actions. The actor maximises ``Q_1`` (with
``cql_actor_bc``: TD3+BC's normalised Q plus behaviour cloning).
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import torch

from dom2lite.algos.actor_critic import ActorCritic
from dom2lite.algos.config import CQLConfig
from dom2lite.critics.cql import cql_logsumexp, uniform_log_density
from dom2lite.critics.cql_samples import sample_noisy_actions, sample_uniform_actions
from dom2lite.nn.reduce import mean_over


LAGRANGE_START = -3.0
"""Initial multiplier logit: alpha_j starts at cql_alpha * sigmoid(-3), about 5 % of its bound, and rises
only while the gap is too wide (a start at half the bound overshot in our trials on spread: Q on the
sampled actions fell far below the target before the weight came down)."""


class MACQL(ActorCritic):
    name = "cql"
    config_class = CQLConfig

    def __init__(self, spec, config=None, device=None):
        super().__init__(spec, config, device)
        if self.config.cql_lagrange:  # one multiplier per agent: alpha_j = cql_alpha * sigmoid(z_j)
            z0 = torch.full((self.n_agents,), LAGRANGE_START, device=self.device)  # alpha_j starts near 0
            self.cql_multiplier = torch.nn.Parameter(z0)  # [n]
            self.optimisers["cql_multiplier"] = torch.optim.Adam([self.cql_multiplier], lr=self.config.critic_lr)

    def flat_gap(self) -> torch.Tensor:
        """The gap of a Q that ignores the action, ``T d_j log 2`` per agent ``[n]``: the uniform estimate of
        the soft maximum of a constant is that constant plus this. Targets are counted from it."""
        return -self.config.cql_temp * uniform_log_density(self.act_mask)

    def cql_weight(self, gap: torch.Tensor) -> torch.Tensor:
        """The weight of each agent's penalty ``[n]``; with ``cql_lagrange`` also one ascent step of the
        multipliers on ``alpha_j (gap_j - target)``: up while the gap is too wide, down to 0 once it holds.

        ``gap [n]`` is the penalty's value, soft maximum minus data Q; the constraint reads it relative to
        a Q that ignores the action (for which the uniform estimate is exactly ``T d_j log 2``)."""
        cfg = self.config
        if not cfg.cql_lagrange:
            return torch.full_like(gap, cfg.cql_alpha)
        alpha = cfg.cql_alpha * torch.sigmoid(self.cql_multiplier)  # [n]
        flat = self.flat_gap()  # [n]
        opt = self.optimisers["cql_multiplier"]
        opt.zero_grad(set_to_none=True)
        (-(alpha * (gap.detach() - flat - cfg.cql_target_gap)).sum()).backward(inputs=[self.cql_multiplier])
        opt.step()
        return alpha.detach()

    def actor_loss(self, batch, pi):
        """``-Q_1`` (OMAR's code), or TD3+BC's loss with alpha ``1 / cql_actor_bc`` when that is set."""
        w = self.config.cql_actor_bc
        return super().actor_loss(batch, pi) if w == 0 else self.td3bc_actor_loss(batch, pi, 1.0 / w)

    def critic_penalty(self, batch, q1, q2):
        cfg = self.config
        if cfg.cql_alpha == 0:
            return torch.zeros(self.n_agents, device=self.device), {}
        k, b = cfg.cql_n_actions, batch.size
        acts = [sample_uniform_actions(k, b, self.act_mask, self.generator)]  # [K, B, n, A]
        log_p = {}
        if cfg.cql_policy_actions:
            with torch.no_grad():
                pi, pi_next = self.policy(batch.obs), self.policy(batch.next_obs)  # [B, n, A]
            for key, a in (("pi", pi), ("pi_next", pi_next)):
                noisy, log_p[key] = sample_noisy_actions(a, k, cfg.cql_policy_sigma, self.act_mask, self.generator)
                acts.append(noisy)
        q1s, q2s = self.critic.many(batch.obs, torch.cat(acts, 0), batch.state, others=batch.act)  # [M, B, n]
        log_p_rand = uniform_log_density(self.act_mask)  # [n]

        def gaps(q_data, qs):  # each state's gap: soft maximum over the sampled actions minus Q on the data
            groups = qs.split(k, dim=0)  # K each: random, (policy at o, policy at o')
            extra = {}
            if cfg.cql_policy_actions:
                extra = dict(q_pi=groups[1], log_p_pi=log_p["pi"], q_pi_next=groups[2], log_p_pi_next=log_p["pi_next"])
            return cql_logsumexp(groups[0], log_p_rand, temperature=cfg.cql_temp, **extra) - q_data  # [B, n]

        g1, g2 = gaps(q1, q1s), gaps(q2, q2s)  # [B, n] each
        gap = mean_over(g1) + mean_over(g2)  # [n] the gap of both heads
        alpha = self.cql_weight(gap / 2)  # [n]
        pen = gap
        if cfg.cql_hinge:  # states already that far apart add nothing
            limit = self.flat_gap() + cfg.cql_target_gap  # [n]
            pen = mean_over(torch.relu(g1 - limit)) + mean_over(torch.relu(g2 - limit))  # [n]
        return alpha * pen, {"cql_penalty": self.reduce(gap.detach()) / 2, "q_rand_mean": self.reduce(q1s[:k].detach()),
                             "cql_alpha": self.reduce(alpha)}

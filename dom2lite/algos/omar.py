"""OMAR (Pan et al. 2022, arXiv 2111.11188): MA-CQL critics plus actor rectification.

Conservative critics are bumpy in the action, so the actor's gradient ascent on Q gets stuck in poor
local optima — the worse, the more agents. OMAR adds a zeroth-order search around each state
(:func:`~dom2lite.algos.zeroth_order.zeroth_order_search`) and regresses the actor toward the better of
its own action and the best searched one:

    a_hat_j = argmax over {pi_j(o_j), a_search_j} of Q_{j,1}(o, .)
    L_j = omar_coe * ||pi_j(o_j) - a_hat_j||^2 / d_j  -  (1 - omar_coe) mean_B Q_{j,1}(o, pi_j(o_j))  (+ act_reg)

OMAR's code starts the search from ``N(omar_mu, omar_sigma^2)`` in every state (``omar_start="fixed"``)
and uses the first critic head throughout; ``omar_start="policy"`` starts it at ``N(pi(o), omar_sigma^2)``
instead, a local search that the MPE preset uses (chapter 05 measures why). Explained in chapter 05
(conservatism).
"""

from __future__ import annotations

import torch

from dom2lite.algos.config import OMARConfig
from dom2lite.algos.cql import MACQL
from dom2lite.algos.zeroth_order import zeroth_order_search
from dom2lite.nn.reduce import mean_over


class OMAR(MACQL):
    name = "omar"
    config_class = OMARConfig

    def actor_loss(self, batch, pi):
        cfg = self.config
        q_pi = self.critic.q1(batch.obs, pi, batch.state, others=batch.act)  # [B, n]
        with torch.no_grad():
            q_fn = lambda cand: self.critic.many_q1(batch.obs, cand, batch.state, others=batch.act)  # noqa: E731
            mu0 = pi.detach() if cfg.omar_start == "policy" else torch.full_like(pi, cfg.omar_mu)  # [B, n, A]
            a_search, q_search = zeroth_order_search(
                q_fn, mu0, cfg.omar_sigma, self.act_mask, cfg.omar_iters, cfg.omar_n_samples,
                cfg.omar_n_elites, cfg.omar_update, self.generator, cfg.omar_temp)  # [B, n, A], [B, n]
            better = (q_search > q_pi).unsqueeze(-1)  # [B, n, 1]
            a_hat = torch.where(better, a_search, pi)  # [B, n, A]
        mimic = self.masked_mse(pi, a_hat)  # [n]
        loss = cfg.omar_coe * mimic - (1.0 - cfg.omar_coe) * mean_over(q_pi) + self.action_penalty(pi)  # [n]
        return loss, {"omar_mimic": self.reduce(mimic), "omar_search_better": self.reduce(better.squeeze(-1).float()),
                      "omar_search_gain": self.reduce(q_search - q_pi)}

"""MA-TD3+BC: TD3+BC (Fujimoto & Gu 2021) for every agent, on its own critic.

Agent j's actor loss adds behaviour cloning to TD3's and normalises the Q term so that ``alpha`` means
the same whatever the reward scale:

    L_j = -lambda_j mean_B Q_{j,1}(o, pi_j(o_j)) + mean_B ||pi_j(o_j) - a_j||^2 / d_j,
    lambda_j = alpha / mean_B |Q_{j,1}(o, pi_j(o_j))|   (not differentiated).

Critics are plain TD3 critics (target smoothing 0.2 clipped at 0.5, actor delay 2). TD3+BC also
normalises the state features; here observations enter unnormalised (MPE and HalfCheetah observations
are O(1)-O(10)), a difference noted in chapter 05. Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from dom2lite.algos.actor_critic import ActorCritic
from dom2lite.algos.config import TD3BCConfig


class TD3BC(ActorCritic):
    name = "td3bc"
    config_class = TD3BCConfig

    def actor_loss(self, batch, pi):
        return self.td3bc_actor_loss(batch, pi, self.config.bc_alpha)

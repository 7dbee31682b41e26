"""Critics: twin Q per agent with targets, and the CQL(H) conservative regulariser.

- ``twin_q``: :class:`TwinQ`, both heads of every agent in one batched call; ``critic_input`` switch.
- ``targets``: the clipped double-Q TD target and Polyak-averaged target networks.
- ``cql``: the CQL(H) penalty and the proposal densities, as pure functions.
- ``cql_samples``: the uniform and noisy-policy actions the penalty is estimated at.
- ``calibration``: Q on the data's transitions against the Monte-Carlo return that followed them.
- ``toy``: a 1-D bandit showing extrapolation error (chapter 05).
Explained in chapter 05 (conservatism).
"""

from dom2lite.critics.calibration import (
    CalibrationSet,
    calibration_metrics,
    calibration_set,
    data_q,
    monte_carlo_returns,
)
from dom2lite.critics.cql import cql_logsumexp, cql_penalty, gaussian_log_density, uniform_log_density
from dom2lite.critics.cql_samples import sample_noisy_actions, sample_uniform_actions
from dom2lite.critics.targets import frozen_copy, polyak_update, td_target
from dom2lite.critics.twin_q import CRITIC_INPUTS, TwinQ, critic_in_dim, own_slot_joint_action

__all__ = [
    "CalibrationSet",
    "calibration_metrics",
    "calibration_set",
    "data_q",
    "monte_carlo_returns",
    "CRITIC_INPUTS",
    "TwinQ",
    "critic_in_dim",
    "cql_logsumexp",
    "cql_penalty",
    "frozen_copy",
    "gaussian_log_density",
    "own_slot_joint_action",
    "polyak_update",
    "sample_noisy_actions",
    "sample_uniform_actions",
    "td_target",
    "uniform_log_density",
]

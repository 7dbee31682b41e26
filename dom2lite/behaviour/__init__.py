"""Behaviour policies: online MATD3 training, snapshots, and the rules that pick each data quality.

- ``config``: hyper-parameters and per-task sizes (``MATD3Config``, ``default_config``);
- ``matd3``: the learner (centralised twin critics, decentralised tanh actors);
- ``replay``: the online replay buffer;
- ``rollout``: running a policy in a vector environment (evaluation, data recording);
- ``train``: the resumable training driver (checkpoints, snapshots, progress bar);
- ``policy``: actor snapshots and the shipped behaviour weights;
- ``select``: which snapshot is expert / medium / medium-replay;
- ``export``: copying a finished run's chosen snapshots into ``dom2lite/assets/behaviour``;
- ``cli``: ``python -m dom2lite behaviour train | export | show``.
Explained in chapter 02 (the offline setting).
"""

from dom2lite.behaviour.config import MATD3Config, default_config
from dom2lite.behaviour.matd3 import MATD3
from dom2lite.behaviour.policy import BehaviourPolicy, load_shipped, load_snapshot, save_snapshot, shipped_provenance
from dom2lite.behaviour.replay import ReplayBuffer
from dom2lite.behaviour.rollout import Rollout, rollout_episodes
from dom2lite.behaviour.select import select_medium, select_replay
from dom2lite.behaviour.train import TrainOutcome, train_behaviour

__all__ = [
    "BehaviourPolicy",
    "MATD3",
    "MATD3Config",
    "ReplayBuffer",
    "Rollout",
    "TrainOutcome",
    "default_config",
    "load_shipped",
    "load_snapshot",
    "rollout_episodes",
    "save_snapshot",
    "select_medium",
    "select_replay",
    "shipped_provenance",
    "train_behaviour",
]

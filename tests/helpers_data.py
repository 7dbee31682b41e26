"""Tiny valid offline data sets for tests, built with a numpy rng (no environment needed).

``tiny_dataset(...)`` returns an ``OfflineDataset`` whose episodes are real trajectories in form:
``next_obs[t] == obs[t + 1]`` inside an episode, the last step flagged, padded dims zero (the last agent
has one observation and one action dimension fewer, like world's smaller agents).
``save_tiny(ds, path)`` writes it with a card (reference returns and a behaviour description).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dom2lite.data.dataset import OfflineDataset

REFERENCE_RETURNS = {"random": -20.0, "expert": 5.0}


def tiny_dataset(n_agents: int = 2, obs_dim: int = 4, act_dim: int = 3, state_dim: int = 6, episodes: int = 4,
                 episode_len: int = 5, seed: int = 0, task: str = "fake", quality: str = "medium",
                 terminal_every: int = 0, pad_last_agent: bool = True) -> OfflineDataset:
    """``episodes`` episodes of ``episode_len`` steps; every ``terminal_every``-th one ends in a terminal
    (else in a truncation); random rewards, actions uniform in [-1, 1] on the real dims."""
    rng = np.random.default_rng(seed)
    obs_mask = np.ones((n_agents, obs_dim), bool)
    act_mask = np.ones((n_agents, act_dim), bool)
    if pad_last_agent and n_agents > 1:
        obs_mask[-1, -1] = obs_dim == 1  # padded unless it is the agent's only dimension
        act_mask[-1, -1] = act_dim == 1
    fields: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "rew", "next_obs", "state", "next_state",
                                                           "terminated", "truncated", "episode")}
    for e in range(episodes):
        o = rng.normal(size=(episode_len + 1, n_agents, obs_dim)).astype(np.float32) * obs_mask  # [L+1, n, obs]
        s = rng.normal(size=(episode_len + 1, state_dim)).astype(np.float32)  # [L+1, state]
        end = np.zeros(episode_len, bool)
        end[-1] = True
        terminal = terminal_every > 0 and e % terminal_every == terminal_every - 1
        fields["obs"].append(o[:-1])
        fields["next_obs"].append(o[1:])
        fields["state"].append(s[:-1])
        fields["next_state"].append(s[1:])
        fields["act"].append((rng.uniform(-1, 1, (episode_len, n_agents, act_dim)) * act_mask).astype(np.float32))
        fields["rew"].append(rng.normal(size=(episode_len, n_agents)).astype(np.float32))
        fields["terminated"].append(end & terminal)
        fields["truncated"].append(end & (not terminal))
        fields["episode"].append(np.full(episode_len, e, np.int64))
    arrays = {k: np.concatenate(v) for k, v in fields.items()}
    return OfflineDataset(**arrays, obs_mask=obs_mask, act_mask=act_mask, task=task, quality=quality, seed=seed)


def tiny_spread(episodes: int = 12) -> OfflineDataset:
    """A small synthetic data set with spread's shapes (3 agents, obs 18, act 5, state 54, 25 steps)."""
    return tiny_dataset(n_agents=3, obs_dim=18, act_dim=5, state_dim=54, episodes=episodes, episode_len=25,
                        task="spread", quality="expert", pad_last_agent=False)


def save_tiny(ds: OfflineDataset, path: str | Path, reference_returns: dict | None = None, **save_kw) -> Path:
    """Save with a minimal card (reference returns and a behaviour description)."""
    extra = {"reference_returns": dict(reference_returns or REFERENCE_RETURNS),
             "behaviour": {"name": "synthetic", "note": "tests/helpers_data.py"}}
    return ds.save(path, card_extra=extra, command="pytest", **save_kw)

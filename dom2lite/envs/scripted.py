"""The fixed, scripted policies of the non-learning agents in ``tag`` and ``world``.

In OMAR's and DOM2's predator-prey tasks only the predators learn; the prey runs a fixed pretrained
policy. We ship a scripted one instead, so data sets and scores do not depend on a hidden network:

* ``tag`` prey (``agent_0``): flees the predators (each predator pushes it away with weight
  1 / distance), steers around obstacles closer than 0.35, and turns back inside |x|, |y| < 0.8
  (mpe2 penalises the prey for leaving the screen, so a pure flee would leave it).
* ``world`` good agents (``agent_0``, ``agent_1``): forage, i.e. head for the nearest food, unless a
  visible predator is closer than 0.5, then flee as above; same obstacle and boundary terms.
  A predator hidden by a forest appears as (0, 0) in the observation and is ignored.

Both read only their own mpe2 observation, push at full strength in the chosen direction, and add a
small Gaussian jitter (std 0.2 on the direction) drawn from an rng that ``reset(seed)`` reseeds, so an
episode is deterministic given its seed. Actions are mpe2's native 5-D ``[no-op, -x, +x, -y, +y]`` in
[0, 1]. Explained in chapter 02.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ScriptedPolicy = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""``(own observation, rng) -> native MPE action [5] in [0, 1]``."""

JITTER = 0.2  # std of the Gaussian added to the unit direction
BOUND = 0.8  # turn back beyond |x| or |y| = BOUND
OBSTACLE_RADIUS = 0.35  # steer around obstacles closer than this (obstacle size 0.2)
FORAGER_ALARM = 0.5  # a world good agent flees predators closer than this


def direction_to_action(direction: np.ndarray) -> np.ndarray:
    """A 2-D direction -> MPE's 5-D push ``[0, -x, +x, -y, +y]`` in [0, 1] at full strength."""
    norm = float(np.hypot(direction[0], direction[1]))
    dx, dy = (direction / norm) if norm > 1e-8 else (0.0, 0.0)
    return np.array([0.0, max(-dx, 0.0), max(dx, 0.0), max(-dy, 0.0), max(dy, 0.0)], dtype=np.float32)


def flee(rel: np.ndarray) -> np.ndarray:
    """Sum of unit vectors away from the points ``rel [k, 2]`` (relative positions), weighted by 1/distance."""
    dist = np.maximum(np.linalg.norm(rel, axis=1, keepdims=True), 1e-3)  # [k, 1]
    return -(rel / dist**2).sum(axis=0)


def stay_inside(pos: np.ndarray) -> np.ndarray:
    """A push back towards the centre, growing linearly beyond ``BOUND``."""
    return -np.sign(pos) * np.maximum(np.abs(pos) - BOUND, 0.0) * 20.0


def avoid(rel: np.ndarray) -> np.ndarray:
    """Push away from obstacles (relative positions ``[k, 2]``) closer than ``OBSTACLE_RADIUS``."""
    dist = np.maximum(np.linalg.norm(rel, axis=1, keepdims=True), 1e-3)  # [k, 1]
    near = dist < OBSTACLE_RADIUS
    return -(rel / dist * near).sum(axis=0) * 2.0


def tag_prey(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``tag`` prey. Observation (14): vel 0:2, pos 2:4, obstacles 4:8, predators 8:14 (relative)."""
    pos, obstacles, predators = obs[2:4], obs[4:8].reshape(2, 2), obs[8:14].reshape(3, 2)
    direction = _unit(flee(predators)) + avoid(obstacles) + stay_inside(pos)
    return direction_to_action(_unit(direction) + JITTER * rng.standard_normal(2))


def world_forager(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``world`` good agent. Observation (28): vel 0:2, pos 2:4, obstacle 4:6, food 6:10, forests 10:14,
    predators 14:22 (leader first; (0, 0) when hidden), other good agent 22:24, in-forest 24:26, its vel 26:28."""
    pos, obstacle, food = obs[2:4], obs[4:6].reshape(1, 2), obs[6:10].reshape(2, 2)
    predators = obs[14:22].reshape(4, 2)
    dist = np.linalg.norm(predators, axis=1)  # [4]
    threats = predators[(dist > 0) & (dist < FORAGER_ALARM)]
    if len(threats):
        direction = _unit(flee(threats))
    else:
        direction = _unit(food[np.argmin(np.linalg.norm(food, axis=1))])
    direction = direction + avoid(obstacle) + stay_inside(pos)
    return direction_to_action(_unit(direction) + JITTER * rng.standard_normal(2))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.hypot(v[0], v[1]))
    return v / norm if norm > 1e-8 else np.zeros(2)


SCRIPTED: dict[str, dict[str, ScriptedPolicy]] = {
    "tag": {"agent_0": tag_prey},
    "world": {"agent_0": world_forager, "agent_1": world_forager},
}
"""Per task: the scripted agents' mpe2 names and their policies."""

"""Shifted environments for the generalisation experiments (evaluation only).

A shift changes the dynamics, never the spaces, so a policy trained on the standard task runs as is.
Each shift has a default multiplicative factor ``f``; ``shift_strength`` s applies ``f ** s`` (1.0 = the
documented default, 0 = no change, 2 = twice as far in log-scale). Physical parameters are changed once
when the environment is built (resets do not touch them); landmark layouts are changed after every reset.
Explained in chapter 02.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from dom2lite.errors import ConfigError

MPE_DEFAULT_ACCEL = 5.0  # mpe2's action sensitivity when an agent's ``accel`` is None (spread)
MAX_DAMPING = 0.95  # world.damping >= 1 would reverse velocities


@dataclass(frozen=True)
class Shift:
    """One named change of the dynamics. ``on_make(sim, learners, f)`` runs when the env is built,
    ``on_reset(sim, learners, f)`` after every reset; ``sim`` is the mpe2 world or the MuJoCo model."""

    name: str
    description: str
    factor: float
    on_make: Callable | None = None
    on_reset: Callable | None = None


def _mpe_speed(world, learners, f):
    for agent in learners:
        agent.accel = (agent.accel if agent.accel is not None else MPE_DEFAULT_ACCEL) * f
        if agent.max_speed is not None:
            agent.max_speed *= f


def _mpe_damping(world, learners, f):
    world.damping = min(world.damping * f, MAX_DAMPING)


def _mpe_size(world, learners, f):
    for agent in learners:
        agent.size *= f


def _mpe_landmarks(world, learners, f):
    for landmark in world.landmarks:
        landmark.state.p_pos = landmark.state.p_pos * f


def _mj_mass(model, learners, f):
    model.body_mass[1:] *= f  # body 0 is the world
    model.body_inertia[1:] *= f  # same shapes, denser material


def _mj_friction(model, learners, f):
    model.geom_friction[:, 0] *= f  # sliding friction


def _mj_damping(model, learners, f):
    model.dof_damping[:] *= f


MPE_SHIFTS = {s.name: s for s in (
    Shift("speed", "learning agents' acceleration and max speed x0.6", 0.6, on_make=_mpe_speed),
    Shift("damping", "world velocity damping x2 (0.25 -> 0.5, capped at 0.95)", 2.0, on_make=_mpe_damping),
    Shift("size", "learning agents' radius x1.5 (more collisions)", 1.5, on_make=_mpe_size),
    Shift("landmarks", "landmarks (targets, obstacles, food, forests) placed x1.5 further from the centre",
          1.5, on_reset=_mpe_landmarks),
)}
MUJOCO_SHIFTS = {s.name: s for s in (
    Shift("mass", "every body's mass (and inertia) x1.5", 1.5, on_make=_mj_mass),
    Shift("friction", "sliding friction of every geom x0.5 (slippery floor)", 0.5, on_make=_mj_friction),
    Shift("damping", "joint damping x2", 2.0, on_make=_mj_damping),
)}
SHIFTS_BY_TASK = {"spread": MPE_SHIFTS, "tag": MPE_SHIFTS, "world": MPE_SHIFTS, "halfcheetah": MUJOCO_SHIFTS}


def list_shifts(task: str) -> dict[str, str]:
    """Shift names of ``task`` with one-line descriptions (at strength 1)."""
    return {name: s.description for name, s in _task_shifts(task).items()}


@dataclass(frozen=True)
class ActiveShift:
    """A shift at a given strength, ready to be applied by an environment wrapper."""

    shift: Shift
    strength: float

    @property
    def factor(self) -> float:
        return self.shift.factor ** self.strength

    def on_make(self, sim, learners=()) -> None:
        if self.shift.on_make is not None:
            self.shift.on_make(sim, learners, self.factor)

    def on_reset(self, sim, learners=()) -> None:
        if self.shift.on_reset is not None:
            self.shift.on_reset(sim, learners, self.factor)


def resolve_shift(task: str, shift: str | None, strength: float = 1.0) -> ActiveShift | None:
    """Validate ``shift``/``strength`` for ``task``; ``None`` (or ``"none"``) means the standard task."""
    shifts = _task_shifts(task)
    if shift is None or shift == "none":
        return None
    if shift not in shifts:
        raise ConfigError("shift", f"unknown shift {shift!r} for task {task!r}; choose from {sorted(shifts)}")
    try:
        strength = float(strength)
    except (TypeError, ValueError):
        raise ConfigError("shift_strength", f"must be a number, got {strength!r}") from None
    if not math.isfinite(strength) or strength < 0:
        raise ConfigError("shift_strength", f"must be a finite number >= 0, got {strength!r}")
    return ActiveShift(shifts[shift], strength)


def _task_shifts(task: str) -> dict[str, Shift]:
    if task not in SHIFTS_BY_TASK:
        raise ConfigError("task", f"unknown task {task!r}; choose from {tuple(SHIFTS_BY_TASK)}")
    return SHIFTS_BY_TASK[task]


__all__ = ["MPE_SHIFTS", "MUJOCO_SHIFTS", "ActiveShift", "Shift", "list_shifts", "resolve_shift"]

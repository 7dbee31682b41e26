"""Moving state between K solo runs and one wide algorithm of K members (pure functions on tensors).

A wide tensor is laid out in one of three ways, told apart by comparing it with its solo counterpart:

- **agent-stacked** (every network parameter, its optimiser moments, per-agent multipliers): the solo
  tensor has ``g * n`` slices on axis 0 (``g`` groups of the ``n`` agents, e.g. the two heads of a
  stacked twin critic), the wide one ``g * K * n``, ordered group, member, agent;
- **per member** (a solo 0-d value such as DOM2's acting seed or the reward scale): wide ``[K]``;
- **shared** (same shape: schedules, step counters): all members must hold the same value.

``stack_state`` and ``member_state`` are inverse to each other; ``tests/test_members.py`` checks that
a round trip returns every member's state unchanged. Explained in the Cost appendix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from dom2lite.errors import CheckpointError


def _layout(wide_shape: torch.Size, solo_shape: torch.Size, members: int, n: int) -> str:
    if wide_shape == solo_shape:
        return "shared"
    if len(solo_shape) == 0 and tuple(wide_shape) == (members,):
        return "member"
    if (len(solo_shape) >= 1 and wide_shape[1:] == solo_shape[1:] and wide_shape[0] == members * solo_shape[0]
            and solo_shape[0] % n == 0):
        return "agents"
    raise ValueError(f"a wide tensor of shape {tuple(wide_shape)} does not stack {members} members of shape "
                     f"{tuple(solo_shape)} ({n} agents each)")


def stack_tensor(parts: Sequence[torch.Tensor], wide_shape: torch.Size, n: int, name: str = "") -> torch.Tensor:
    """K members' tensors -> the wide tensor of ``wide_shape``."""
    solo, members = parts[0], len(parts)
    layout = _layout(torch.Size(wide_shape), solo.shape, members, n)
    if layout == "shared":
        for k, p in enumerate(parts[1:], 1):
            if not torch.equal(p, solo):
                raise CheckpointError(None, name, f"member {k} differs from member 0 in a value members share")
        return solo.clone()
    if layout == "member":
        return torch.stack(list(parts))
    g = solo.shape[0] // n
    grouped = [p.reshape(g, n, *solo.shape[1:]) for p in parts]  # each [g, n, ...]
    return torch.stack(grouped, dim=1).reshape(wide_shape)  # [g, K, n, ...] -> [g K n, ...]


def member_tensor(wide: torch.Tensor, k: int, solo_shape: torch.Size, members: int, n: int) -> torch.Tensor:
    """Member ``k``'s tensor of ``solo_shape`` out of the wide tensor (a copy)."""
    layout = _layout(wide.shape, torch.Size(solo_shape), members, n)
    if layout == "shared":
        return wide.clone()
    if layout == "member":
        return wide[k].clone()
    g = solo_shape[0] // n
    return wide.reshape(g, members, n, *solo_shape[1:])[:, k].reshape(solo_shape).clone()


def _same(values: Sequence[Any], name: str) -> Any:
    for k, v in enumerate(values[1:], 1):
        if v != values[0]:
            raise CheckpointError(None, name, f"member {k} has {v!r}, member 0 {values[0]!r}; members must agree")
    return values[0]


def stack_modules(parts: Sequence[Mapping[str, torch.Tensor]], wide_like: Mapping[str, torch.Tensor],
                  n: int) -> dict[str, torch.Tensor]:
    """K modules' state dicts -> the wide module's (keys and shapes from ``wide_like``)."""
    return {key: stack_tensor([p[key] for p in parts], like.shape, n, key) for key, like in wide_like.items()}


def member_modules(wide: Mapping[str, torch.Tensor], k: int, solo_like: Mapping[str, torch.Tensor],
                   members: int, n: int) -> dict[str, torch.Tensor]:
    return {key: member_tensor(wide[key], k, like.shape, members, n) for key, like in solo_like.items()}


def stack_optimiser(parts: Sequence[Mapping[str, Any]], wide_params: Sequence[torch.Tensor],
                    n: int, what: str) -> dict[str, Any]:
    """K optimisers' state dicts (Adam and the like: per-parameter moments, scalar steps) -> the wide one's."""
    groups = _same([p["param_groups"] for p in parts], f"{what}.param_groups")
    indices = _same([sorted(p["state"]) for p in parts], f"{what}.state")
    state: dict[int, dict[str, Any]] = {}
    for i in indices:
        entries = [p["state"][i] for p in parts]
        state[i] = {}
        for name in entries[0]:
            values = [e[name] for e in entries]
            if torch.is_tensor(values[0]) and values[0].dim() > 0:
                state[i][name] = stack_tensor(values, wide_params[i].shape, n, f"{what}.{name}")
            elif torch.is_tensor(values[0]):
                state[i][name] = stack_tensor(values, values[0].shape, n, f"{what}.{name}")
            else:
                state[i][name] = _same(values, f"{what}.{name}")
    return {"state": state, "param_groups": groups}


def member_optimiser(wide: Mapping[str, Any], k: int, solo_params: Sequence[torch.Tensor], members: int,
                     n: int) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for i, entry in wide["state"].items():
        state[i] = {name: member_tensor(v, k, solo_params[int(i)].shape, members, n)
                    if torch.is_tensor(v) and v.dim() > 0 else (v.clone() if torch.is_tensor(v) else v)
                    for name, v in entry.items()}
    return {"state": state, "param_groups": [dict(g) for g in wide["param_groups"]]}

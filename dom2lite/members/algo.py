"""K independent runs of one algorithm as one wide algorithm: building it, its batches, its members.

``stack_members(solos)`` takes K solo algorithms -- built, seeded and prepared exactly as K solo runs
would be (reward scale, critic start) -- and returns one algorithm of the same class whose agent axis
holds their ``K * n`` agents side by side. Each member keeps its own initialisation, generator,
optimiser moments, gradient clip and target updates; one ``update`` on :func:`stack_batches` of the K
members' own mini-batches steps all of them, and returns one metrics dict per member. Because every
random number is drawn member by member (:mod:`dom2lite.members.rng`) and every per-agent operation is
independent across the agent axis, member k follows its solo run up to floating-point rounding
(``tests/test_members.py``). ``member_state_dict(wide, k)`` is an ordinary solo checkpoint: the run
folder of a member resumes, evaluates and plots as a solo run's does. Explained in the Cost appendix.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from dom2lite.data.batch import Batch
from dom2lite.errors import ConfigError
from dom2lite.members.rng import MemberGenerators
from dom2lite.members.stack import member_modules, member_optimiser, stack_modules, stack_optimiser


@dataclass
class MemberLayout:
    """What a wide algorithm needs to hand out its members: a solo instance of the same class and config
    (its shapes say how to cut; its modules are scratch space for looking at one member) and the seeds."""

    template: Any
    seeds: list[int]


def _optimiser_params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in opt.param_groups for p in group["params"]]  # the order of state_dict's indices


def _check_alike(solos: Sequence) -> None:
    first = solos[0]
    for k, solo in enumerate(solos):
        if getattr(solo, "members", 1) != 1:
            raise ConfigError("members", f"solo {k} is already a wide algorithm of {solo.members} members")
        if type(solo) is not type(first):
            raise ConfigError("algo", f"member {k} is {solo.name}, member 0 {first.name}: members share an algorithm")
        for f in fields(first.config):
            if f.name != "seed" and getattr(solo.config, f.name) != getattr(first.config, f.name):
                raise ConfigError(f.name, f"member {k} has {getattr(solo.config, f.name)!r}, member 0 "
                                          f"{getattr(first.config, f.name)!r}: members differ only in their seed")
    seeds = [int(s.config.seed) for s in solos]
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"members need distinct seeds, got {seeds}")


def stack_members(solos: Sequence) -> Any:
    """One wide algorithm whose member k is ``solos[k]`` (same class and config but the seed).

    A single solo is returned as it is: one member is a solo run."""
    solos = list(solos)
    if not solos:
        raise ConfigError("seeds", "no members to stack")
    _check_alike(solos)
    if len(solos) == 1:
        return solos[0]
    first = solos[0]
    spec = types.SimpleNamespace(n_agents=first.member_agents, obs_dim=first.obs_dim, act_dim=first.act_dim,
                                 state_dim=first.state_dim, act_mask=first.act_mask.cpu().numpy(),
                                 members=len(solos))
    wide = type(first)(spec, first.config, first.device)
    wide.member_layout = MemberLayout(first, [int(s.config.seed) for s in solos])
    load_member_state_dicts(wide, [s.state_dict() for s in solos])
    return wide


def load_member_state_dicts(wide, states: Sequence[dict[str, Any]]) -> None:
    """Set every member of ``wide`` from solo state dicts (``OfflineAlgorithm.state_dict`` format)."""
    if wide.members == 1:
        wide.load_state_dict(states[0])
        return
    if len(states) != wide.members:
        raise ConfigError("seeds", f"{len(states)} member states for {wide.members} members")
    n = wide.member_agents
    updates = {int(s["updates"]) for s in states}
    if len(updates) != 1:
        raise ConfigError("updates", f"members are at different steps {sorted(updates)}; resume them together")
    wide.load_state_dict({
        "algo": states[0]["algo"],
        "modules": stack_modules([s["modules"] for s in states], nn.Module.state_dict(wide), n),
        "optimisers": {name: stack_optimiser([s["optimisers"][name] for s in states], _optimiser_params(opt), n,
                                             name) for name, opt in wide.optimisers.items()},
        "generator": [s["generator"] for s in states],
        "updates": updates.pop(),
    })


def member_state_dict(wide, k: int, full: dict[str, Any] | None = None) -> dict[str, Any]:
    """Member ``k`` of ``wide`` as a solo algorithm's state dict (what its run folder's checkpoint holds).
    ``full``: ``wide.state_dict()`` when the caller already has it (cutting all K members from one)."""
    if wide.members == 1:
        return wide.state_dict() if full is None else full
    if not 0 <= k < wide.members:
        raise IndexError(f"member {k} of {wide.members}")
    template, n, K = wide.member_layout.template, wide.member_agents, wide.members
    full = wide.state_dict() if full is None else full
    return {
        "algo": full["algo"],
        "modules": member_modules(full["modules"], k, nn.Module.state_dict(template), K, n),
        "optimisers": {name: member_optimiser(full["optimisers"][name], k, _optimiser_params(opt), K, n)
                       for name, opt in template.optimisers.items()},
        "generator": full["generator"][k],
        "updates": full["updates"],
    }


def member_module(wide, attr: str, k: int) -> nn.Module:
    """Member ``k``'s ``wide.<attr>`` (e.g. ``"critic"``) as a solo module: the template's, loaded with that
    member's weights (overwritten by the next call, so use it before asking for another member)."""
    if wide.members == 1:
        return getattr(wide, attr)
    template, n, K = wide.member_layout.template, wide.member_agents, wide.members
    solo = getattr(template, attr)
    solo.load_state_dict(member_modules(getattr(wide, attr).state_dict(), k, solo.state_dict(), K, n))
    return solo


def member_values(wide, values: torch.Tensor) -> list[float]:
    """A per-member buffer (``[K]``, or 0-d for a solo algorithm) as one float per member."""
    return [float(values)] if wide.members == 1 else [float(v) for v in values]


def stack_batches(batches: Sequence[Batch]) -> Batch:
    """K members' mini-batches ``[B, n, ...]`` side by side on the agent axis: ``[B, K n, ...]``; the global
    state one per member ``[B, K, S]`` and ``terminated`` per agent slot ``[B, K n]``."""
    if len(batches) == 1:
        return batches[0]
    n = batches[0].obs.shape[1]
    return Batch(
        obs=torch.cat([b.obs for b in batches], dim=1),  # [B, K n, obs_dim]
        act=torch.cat([b.act for b in batches], dim=1),  # [B, K n, act_dim]
        rew=torch.cat([b.rew for b in batches], dim=1),  # [B, K n]
        next_obs=torch.cat([b.next_obs for b in batches], dim=1),  # [B, K n, obs_dim]
        state=torch.stack([b.state for b in batches], dim=1),  # [B, K, state_dim]
        next_state=torch.stack([b.next_state for b in batches], dim=1),  # [B, K, state_dim]
        terminated=torch.stack([b.terminated for b in batches], dim=1).repeat_interleave(n, dim=1),  # [B, K n]
    )

"""Random draws for seed members: K independent generators, one per member, split along the agent axis.

A *member* is one independent training run (one seed). K members of the same algorithm train in one
process as one wide algorithm whose agent axis holds ``K * n`` slots, member-major: slots
``k * n .. k * n + n - 1`` are member k's agents (:mod:`dom2lite.members.algo`). Every random number a
solo run draws comes from its own ``torch.Generator``; for the K members to draw exactly what K solo
runs would, a draw of shape ``[..., K * n, ...]`` is made as K draws of the solo shape ``[..., n, ...]``,
member k's from member k's generator, concatenated along the agent axis.

The functions below take either a plain ``torch.Generator`` (or ``None``: the global one) -- and then do
exactly what ``torch.randn`` / ``torch.rand`` / ``torch.randint`` do -- or a :class:`MemberGenerators`.
Call sites name the agent axis: ``-2`` for action-shaped tensors ``[..., n, act_dim]``, ``-1`` for
per-agent ones ``[..., n]``. Explained in the Cost appendix (seeds as a batch dimension).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class MemberGenerators:
    """One ``torch.Generator`` per member, on one device; ``get_state``/``set_state`` take lists."""

    def __init__(self, generators: Sequence[torch.Generator]):
        if not generators:
            raise ValueError("MemberGenerators needs at least one generator")
        devices = {g.device for g in generators}
        if len(devices) != 1:
            raise ValueError(f"all members' generators must live on one device, got {sorted(map(str, devices))}")
        self.generators = list(generators)
        self.device = generators[0].device

    @classmethod
    def seeded(cls, seeds: Sequence[int], device: torch.device | str = "cpu") -> "MemberGenerators":
        return cls([torch.Generator(device=device).manual_seed(int(s)) for s in seeds])

    def __len__(self) -> int:
        return len(self.generators)

    def manual_seed(self, seeds: Sequence[int]) -> "MemberGenerators":
        """Re-seed member k's generator with ``seeds[k]``."""
        if len(seeds) != len(self.generators):
            raise ValueError(f"{len(seeds)} seeds for {len(self.generators)} members")
        for g, s in zip(self.generators, seeds):
            g.manual_seed(int(s))
        return self

    def get_state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: Sequence[torch.Tensor]) -> None:
        if len(states) != len(self.generators):
            raise ValueError(f"{len(states)} generator states for {len(self.generators)} members")
        for g, s in zip(self.generators, states):
            g.set_state(torch.as_tensor(s).cpu())


Generator = torch.Generator | MemberGenerators | None


def generator_device(generator: Generator, default) -> torch.device:
    """Where ``generator`` draws (``default`` for the global generator)."""
    return torch.device(default) if generator is None else generator.device


def _member_shapes(shape: Sequence[int], members: int, agent_axis: int) -> tuple[list[int], int]:
    shape = list(shape)
    axis = agent_axis % len(shape)
    if shape[axis] % members:
        raise ValueError(f"agent axis {agent_axis} of shape {tuple(shape)} does not hold {members} members")
    shape[axis] //= members
    return shape, axis


def _draw(fn, shape: Sequence[int], generator: Generator, agent_axis: int, **kwargs) -> torch.Tensor:
    shape = tuple(shape)
    if not isinstance(generator, MemberGenerators):
        return fn(shape, generator=generator, **kwargs)
    solo, axis = _member_shapes(shape, len(generator), agent_axis)
    return torch.cat([fn(solo, generator=g, **kwargs) for g in generator.generators], dim=axis)


def randn(shape: Sequence[int], generator: Generator, agent_axis: int, **kwargs) -> torch.Tensor:
    """``torch.randn(shape, generator=...)``, member by member along ``agent_axis`` (kwargs: device, dtype)."""
    return _draw(torch.randn, shape, generator, agent_axis, **kwargs)


def rand(shape: Sequence[int], generator: Generator, agent_axis: int, **kwargs) -> torch.Tensor:
    """``torch.rand(shape, generator=...)``, member by member along ``agent_axis``."""
    return _draw(torch.rand, shape, generator, agent_axis, **kwargs)


def randint(low: int, high: int, shape: Sequence[int], generator: Generator, agent_axis: int,
            **kwargs) -> torch.Tensor:
    """``torch.randint(low, high, shape, generator=...)``, member by member along ``agent_axis``."""
    def fn(size, **kw):
        return torch.randint(low, high, size, **kw)
    return _draw(fn, shape, generator, agent_axis, **kwargs)

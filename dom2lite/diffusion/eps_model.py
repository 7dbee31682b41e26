"""The noise-prediction network eps_theta(a_n, o, n) of every agent, evaluated for all agents at once.

The DOM2 paper describes its network as "U-Net-style with dropout"; for low-dimensional actions the
usual realisation (Diffusion-QL's) is an MLP on the concatenation ``[a_n, o, emb(n)]`` where
``emb(n)`` is a sinusoidal embedding of the step followed by a small MLP (``t_dim = 16``). That is
what this module builds, with per-agent weights stacked in :class:`~dom2lite.nn.AgentMLP` (one batched
matrix product per layer for all agents) and an optional ``dropout`` between hidden layers.
Explained in chapter 03 (score matching).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from dom2lite.errors import ConfigError
from dom2lite.nn.agent_mlp import AgentLinear, AgentMLP


def sinusoidal_frequencies(dim: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The ``dim / 2`` frequencies ``w_k = 10000^{-k / (dim/2 - 1)}``, ``k = 0..dim/2 - 1`` (float32)."""
    if dim < 4 or dim % 2:
        raise ConfigError("t_dim", f"must be an even integer >= 4, got {dim}")
    half = dim // 2
    return torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / (half - 1))


def sinusoidal_embedding(n: torch.Tensor, dim: int, freqs: torch.Tensor | None = None) -> torch.Tensor:
    """Transformer-style embedding of a (float) step: ``[...] -> [..., dim]``, ``[sin(n w_k), cos(n w_k)]``
    with the frequencies of :func:`sinusoidal_frequencies` (pass them as ``freqs`` to skip recomputing them)."""
    if freqs is None:
        freqs = sinusoidal_frequencies(dim, n.device)
    angles = n.to(torch.float32)[..., None] * freqs  # [..., half]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)  # [..., dim]


class EpsModel(nn.Module):
    """``eps_theta(a_n, o, n)`` for ``n_agents`` agents with their own (stacked) weights.

    ``forward(act [B, n_agents, act_dim], obs [B, n_agents, obs_dim], n [B] | [B, n_agents] | number)``
    returns the predicted noise ``[B, n_agents, act_dim]``. ``n`` may be integer or float (a float step
    between the training steps is an interpolation the network was never trained on; the samplers only
    ask for it when more steps than the training grid are requested). ``act_mask`` ``[n_agents, act_dim]``
    (bool) marks the real action dimensions; the prediction is zero in padded ones.
    Agent ``j``'s output depends only on ``act[:, j]``, ``obs[:, j]`` and ``n[:, j]`` (decentralised).

    Acting fast (the Cost appendix): when ``n`` is a Python number and no gradient is recorded, the
    step embedding ``emb(n)`` is the same for every row, so it is computed once at batch 1 and kept
    (per step) until the time MLP's weights change -- a training update or a target-network update
    bumps their version counters. Without padded dimensions the output mask is skipped.
    """

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256, 256),
        activation: str = "mish",
        t_dim: int = 16,
        dropout: float = 0.0,
        act_mask: torch.Tensor | None = None,
    ):
        super().__init__()
        if n_agents < 1 or act_dim < 1 or obs_dim < 0:
            raise ConfigError("eps_model", f"bad sizes n_agents={n_agents}, obs_dim={obs_dim}, act_dim={act_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError("dropout", f"must be in [0, 1), got {dropout}")
        self.n_agents, self.obs_dim, self.act_dim, self.t_dim = n_agents, obs_dim, act_dim, t_dim
        # emb(n): sinusoidal features -> Linear(t, 2t) -> act -> Linear(2t, t), per agent (Diffusion-QL's time MLP)
        self.time_mlp = AgentMLP(n_agents, t_dim, t_dim, hidden=(2 * t_dim,), activation=activation)
        self.net = AgentMLP(n_agents, act_dim + obs_dim + t_dim, act_dim, hidden=tuple(hidden), activation=activation)
        if dropout > 0:  # a Dropout after every hidden activation of the main MLP
            layers: list[nn.Module] = []
            for layer in self.net.net:
                layers.append(layer)
                if not isinstance(layer, AgentLinear):
                    layers.append(nn.Dropout(dropout))
            self.net.net = nn.Sequential(*layers)
        self.dropout = dropout
        if act_mask is None:
            act_mask = torch.ones(n_agents, act_dim, dtype=torch.bool)
        act_mask = torch.as_tensor(act_mask, dtype=torch.bool)
        if tuple(act_mask.shape) != (n_agents, act_dim):
            raise ConfigError("act_mask", f"expected shape {(n_agents, act_dim)}, got {tuple(act_mask.shape)}")
        self.register_buffer("act_mask", act_mask.clone(), persistent=False)  # [n_agents, act_dim] bool
        self.padded = not bool(act_mask.all())  # False: multiplying by the mask would change nothing
        self.register_buffer("time_freqs", sinusoidal_frequencies(t_dim), persistent=False)  # [t_dim / 2]
        self._temb_cache: dict[tuple, tuple[tuple, torch.Tensor]] = {}  # (n, dtype, device) -> (versions, emb)
        self._time_params = list(self.time_mlp.parameters())  # walking the modules costs 20 us a call

    def forward(self, act: torch.Tensor, obs: torch.Tensor, n) -> torch.Tensor:
        B = act.shape[0]
        if act.dim() != 3 or act.shape[1:] != (self.n_agents, self.act_dim):
            raise ValueError(f"act must be [B, {self.n_agents}, {self.act_dim}], got {tuple(act.shape)}")
        if obs.dim() != 3 or obs.shape != (B, self.n_agents, self.obs_dim):
            raise ValueError(f"obs must be [{B}, {self.n_agents}, {self.obs_dim}], got {tuple(obs.shape)}")
        if isinstance(n, (int, float)) and not torch.is_grad_enabled():
            temb = self._step_embedding(float(n), act.dtype, act.device).expand(B, -1, -1)  # [B, n_agents, t_dim]
        else:
            n = torch.as_tensor(n, device=act.device)
            if n.dim() == 0:
                n = n.expand(B)
            if n.dim() == 1:
                n = n[:, None].expand(B, self.n_agents)  # [B, n_agents]
            if n.shape != (B, self.n_agents):
                raise ValueError(f"n must be [B], [B, n_agents] or a number, got {tuple(n.shape)}")
            temb = self.time_mlp(sinusoidal_embedding(n, self.t_dim, self.time_freqs).to(act.dtype))  # [B, n, t_dim]
        eps = self.net(torch.cat([act, obs.to(act.dtype), temb], dim=-1))  # [B, n_agents, act_dim]
        return eps * self.act_mask.to(eps.dtype) if self.padded else eps

    def _step_embedding(self, n: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``emb(n)`` ``[1, n_agents, t_dim]`` for one step, cached until the time MLP's weights change
        (called by ``forward`` with gradients off only: a cached tensor must not carry a graph)."""
        # in-place updates (optimiser, Polyak, load_state_dict) bump ``_version``; a copied or moved
        # module has new storage
        versions = tuple((p.data_ptr(), p._version) for p in self._time_params)
        key = (n, dtype, device)
        hit = self._temb_cache.get(key)
        if hit is not None and hit[0] == versions:
            return hit[1]
        if len(self._temb_cache) > 64:  # many different float steps (e.g. a long "lam" grid): start afresh
            self._temb_cache.clear()
        steps = torch.full((1, self.n_agents), n, device=device)  # [1, n_agents]
        temb = self.time_mlp(sinusoidal_embedding(steps, self.t_dim, self.time_freqs).to(dtype))  # [1, n, t_dim]
        self._temb_cache[key] = (versions, temb)
        return temb

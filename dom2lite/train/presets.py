"""Training budgets by profile: how many gradient steps, how often to evaluate, log and checkpoint.

The algorithms' hyper-parameters live in :mod:`dom2lite.algos.config` (the papers' values); this table
only sizes a run to the machine. ``smoke`` runs in seconds (tests, ``pytest --nbval book``); ``book``
is what one chapter trains on 2 CPU cores in a minute or two per run, with the networks narrowed to
OMAR's MPE width (64 x 2) so that 2,000 steps fit (the narrowing is part of the preset and recorded in
every run's config.json); ``full`` is the paper-sized budget for the command line and GPUs. The command line always wins:
``--steps``, ``--eval-every`` and ``--set FIELD=VALUE`` override any entry here.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dom2lite.profiles import Profile, current_profile


@dataclass(frozen=True)
class Budget:
    """The size of one training run (in gradient steps) and the algorithm fields the profile narrows."""

    steps: int
    eval_every: int
    eval_episodes: int
    log_every: int
    checkpoint_every: int
    algo_overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields the profile sets for every algorithm (e.g. smaller networks on the CPU)."""
    per_algo: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Config fields the profile sets for one algorithm; the command line wins over both."""

    def overrides_for(self, algo: str) -> dict[str, Any]:
        return {**self.algo_overrides, **self.per_algo.get(algo, {})}


_SMOKE = Budget(steps=30, eval_every=15, eval_episodes=2, log_every=5, checkpoint_every=15,
                algo_overrides=dict(hidden=(32, 32), batch_size=64))
# A diffusion policy needs many more gradient steps than a deterministic one to become conditioned on
# the observation (chapter 07 measures it): with 2,000 steps at Diffusion-QL's 3e-4 the noise network
# stays near the unconditional action distribution, so the book profile trains it with larger steps.
_DOM2_BOOK = dict(actor_lr=3e-3, critic_lr=1e-3)
_BUDGETS: dict[Profile, dict[str, Budget]] = {
    Profile.SMOKE: {"mpe": _SMOKE, "halfcheetah": _SMOKE},
    Profile.BOOK: {
        "mpe": Budget(steps=2_000, eval_every=250, eval_episodes=20, log_every=25, checkpoint_every=500,
                      algo_overrides=dict(hidden=(64, 64), batch_size=256), per_algo={"dom2": _DOM2_BOOK}),
        "halfcheetah": Budget(steps=2_000, eval_every=500, eval_episodes=3, log_every=25, checkpoint_every=500,
                              algo_overrides=dict(hidden=(64, 64), batch_size=256), per_algo={"dom2": _DOM2_BOOK}),
    },
    Profile.FULL: {  # OMAR and DOM2 train on the order of 1e5 steps per run
        "mpe": Budget(steps=100_000, eval_every=5_000, eval_episodes=20, log_every=500, checkpoint_every=5_000),
        "halfcheetah": Budget(steps=200_000, eval_every=10_000, eval_episodes=10, log_every=500,
                              checkpoint_every=5_000),
    },
}


def budget_for(task: str, profile: Profile | str | None = None) -> Budget:
    """The budget of ``task`` in ``profile`` (default: the active ``DOM2LITE_PROFILE``)."""
    from dom2lite.algos.config import task_family

    p = current_profile() if profile is None else Profile(profile)
    return _BUDGETS[p][task_family(task)]

"""The shared training loop: pieces resume bit-identically (log windows too), rows are window means,
guards stop diverging runs."""

from __future__ import annotations

import pytest
import torch

from dom2lite.errors import ConfigError, TrainingDiverged
from dom2lite.train.trainer import FitSchedule, fit


class ToySampler:
    """Draws regression pairs from its own generator (stands in for the data set sampler)."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, batch_size: int):
        x = torch.randn(batch_size, 4, generator=self.gen)
        return x, x.sum(-1, keepdim=True).sin()

    def state_dict(self):
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])


class ToyAlgo(torch.nn.Module):
    name = "toy"

    def __init__(self, blow_up_at: int | None = None):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Mish(), torch.nn.Linear(16, 1))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-2)
        self.device = torch.device("cpu")
        self.blow_up_at, self.steps = blow_up_at, 0

    def update(self, batch):
        x, y = batch
        # dropout-like use of the global RNG: resume must restore it too
        noise = 0.01 * torch.randn_like(x)
        loss = (self.net(x + noise) - y).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.steps += 1
        q = float("nan") if self.steps == self.blow_up_at else loss.item()
        return {"loss": loss.item(), "q_max": q}

    def state_dict(self, *args, **kwargs):
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "steps": self.steps}

    def load_state_dict(self, state, strict=True):
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.steps = state["steps"]


def _weights(algo):
    return torch.cat([p.detach().flatten() for p in algo.net.parameters()])


def test_training_in_pieces_equals_one_run(tmp_path):
    schedule = FitSchedule(steps=30, log_every=5, eval_every=10, checkpoint_every=7)
    evals = lambda algo: {"eval/mean": float(_weights(algo).sum())}  # noqa: E731

    torch.manual_seed(0)
    whole = ToyAlgo()
    log_whole = fit(whole, ToySampler(1), 8, schedule, tmp_path / "whole", eval_fn=evals, progress=False)

    torch.manual_seed(0)
    first = ToyAlgo()
    fit(first, ToySampler(1), 8, schedule, tmp_path / "pieces", eval_fn=evals, progress=False, stop_after=12)
    torch.manual_seed(123)  # a new process would start from other random states
    second = ToyAlgo()  # fresh weights: everything must come from the checkpoint
    log_pieces = fit(second, ToySampler(99), 8, schedule, tmp_path / "pieces", eval_fn=evals, progress=False)

    assert torch.equal(_weights(whole), _weights(second))
    assert log_whole == log_pieces


class StepAlgo(ToyAlgo):
    """Reports its step number as the loss, and an actor metric on every other step only."""

    def update(self, batch):
        self.steps += 1
        out = {"loss": float(self.steps), "q_min": -float(self.steps), "q_max": float(self.steps)}
        return out if self.steps % 2 else {**out, "actor_loss": 10.0 * self.steps}


def test_logged_rows_are_window_means(tmp_path):
    log = fit(StepAlgo(), ToySampler(0), 8, FitSchedule(steps=8, log_every=4), tmp_path, progress=False)
    assert log == [
        {"step": 4, "loss": 2.5, "q_min": -4.0, "q_max": 4.0, "actor_loss": 30.0},  # steps 1-4; actor: 2, 4
        {"step": 8, "loss": 6.5, "q_min": -8.0, "q_max": 8.0, "actor_loss": 70.0},  # steps 5-8; actor: 6, 8
    ]


def test_nan_guard_names_step_and_quantity(tmp_path):
    with pytest.raises(TrainingDiverged, match="step 4: q_max") as info:
        fit(ToyAlgo(blow_up_at=4), ToySampler(0), 8, FitSchedule(steps=10), tmp_path, progress=False)
    assert info.value.step == 4


def test_q_limit_guard(tmp_path):
    with pytest.raises(TrainingDiverged, match="q_limit"):
        fit(ToyAlgo(), ToySampler(0), 8, FitSchedule(steps=10, q_limit=1e-9), tmp_path, progress=False)


def test_schedule_validation():
    with pytest.raises(ConfigError, match="eval_every"):
        FitSchedule(steps=10, eval_every=0)

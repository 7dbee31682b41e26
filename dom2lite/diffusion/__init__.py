"""Diffusion policies: noise schedules, the noise-prediction network, its loss and the samplers.

==================  ==========================================================  ==========
module              what it holds                                               chapter
==================  ==========================================================  ==========
``schedules``       ``alpha_n``, ``sigma_n``, ``lam_n`` for n = 0..N (VP, linear,   03, 04
                    cosine); forward noising and eps <-> x0 conversions
``eps_model``       ``eps_theta(a_n, o, n)`` for all agents in one call            03
``loss``            the noise-prediction (score-matching) loss                     03
``samplers``        DDPM and DPM-Solver 1/2/3, on any ``eps_fn(x, n)``             04
``toy``             Gaussian mixtures with exact ``eps``, the four-mode bandit,    03, 04
                    sample distances
==================  ==========================================================  ==========
"""

from dom2lite.diffusion.eps_model import EpsModel, sinusoidal_embedding
from dom2lite.diffusion.loss import noise_prediction_loss
from dom2lite.diffusion.samplers import SOLVERS, sample, solve, solver_name, time_grid
from dom2lite.diffusion.schedules import (
    SCHEDULES,
    CosineSchedule,
    LinearSchedule,
    Schedule,
    VPSchedule,
    make_schedule,
)

__all__ = [
    "SCHEDULES",
    "SOLVERS",
    "CosineSchedule",
    "EpsModel",
    "LinearSchedule",
    "Schedule",
    "VPSchedule",
    "make_schedule",
    "noise_prediction_loss",
    "sample",
    "sinusoidal_embedding",
    "solve",
    "solver_name",
    "time_grid",
]

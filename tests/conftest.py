"""Tests run on the CPU, single-threaded (bit-repeatable), in the smoke profile."""

import os

os.environ.setdefault("DOM2LITE_PROFILE", "smoke")
os.environ.setdefault("DOM2LITE_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

torch.set_num_threads(1)

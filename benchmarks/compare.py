"""Which way is better for each figure, the issue's targets, and the comparison with stored figures."""

from __future__ import annotations

import math

# metric -> (what it is, unit, higher is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "step_ms": ("DOM2 training step, dom2lite", "ms", False),
    "step_ms_reference": ("DOM2 training step, plain reference", "ms", False),
    "step_speedup": ("reference / dom2lite step time", "x", True),
    "step_gflops": ("achieved by the dom2lite step", "GFLOP/s", True),
    "matmul_peak_gflops": ("fp32 matmul peak (best torch.mm)", "GFLOP/s", True),
    "step_pct_peak": ("dom2lite step / matmul peak", "%", True),
    "act_b1_ms": ("joint action, batch 1, dom2lite", "ms", False),
    "act_b1_ms_reference": ("joint action, batch 1, reference", "ms", False),
    "act_b20_ms": ("joint action, batch 20 (evaluation's)", "ms", False),
    "sample_per_s_b1024": ("joint actions/s at batch 1024", "1/s", True),
    "eval_steps_per_s": ("evaluation joint steps/s, spread", "1/s", True),
    "eval_env_only_steps_per_s": ("same loop, zero-action policy", "1/s", True),
    "cql_k10_ms": ("step, CQL 10 uniform actions", "ms", False),
    "cql_k10_ratio": ("CQL 10 uniform / no CQL", "x", False),
    "cql_k10_policy_ms": ("step, CQL 10 uniform + 2x10 policy", "ms", False),
    "cql_k10_policy_ratio": ("CQL 10 + 2x10 policy / no CQL", "x", False),
    "cql_k10_flop_ratio": ("the same in analytic FLOPs", "x", False),
    "cql_k10_policy_flop_ratio": ("the same in analytic FLOPs", "x", False),
}

# figures of the machine or of the reference, not of the package: compared but never flagged
MACHINE = {"step_ms_reference", "act_b1_ms_reference", "matmul_peak_gflops"}

# metric -> (comparison, threshold, as the issue words it)
TARGETS: dict[str, tuple[str, float, str]] = {
    "step_speedup": (">=", 2.0, "step >= 2x faster than the reference"),
    "step_pct_peak": (">=", 45.0, ">= 45 % of the matmul peak"),
    "act_b1_ms": ("<=", 1.0, "joint action at batch 1 <= 1 ms"),
    "eval_steps_per_s": (">=", 1500.0, "evaluation >= 1,500 joint steps/s"),
}


def describe(key: str) -> tuple[str, str, bool]:
    """``METRICS[key]``, with chapter figures (``chapter/<name>/seconds|maxrss_mb``) described on the fly."""
    if key in METRICS:
        return METRICS[key]
    if key.startswith("chapter/"):
        name, what = key.split("/")[1:]
        return (f"chapter {name}", "s" if what == "seconds" else "MB", False)
    return (key, "", True)


def target_status(key: str, value: float) -> str:
    """``"PASS"``/``"FAIL"`` against the issue's target, ``""`` when the metric has none."""
    if key not in TARGETS or value is None or math.isnan(value):
        return ""
    op, threshold, _ = TARGETS[key]
    ok = value >= threshold if op == ">=" else value <= threshold
    return "PASS" if ok else "FAIL"


def compare(current: dict[str, float], previous: dict[str, float], tolerance: float = 0.10) -> dict[str, dict]:
    """Per metric present in both: ``now / before`` and whether the package got worse by more than
    ``tolerance`` (the machine's and the reference's own figures are shown, not flagged)."""
    out = {}
    for key, now in current.items():
        before = previous.get(key)
        if before is None or not before or now is None or math.isnan(now) or math.isnan(before):
            continue
        ratio = now / before
        higher_better = describe(key)[2]
        worse = ratio < 1.0 - tolerance if higher_better else ratio > 1.0 + tolerance
        out[key] = {"before": before, "ratio": ratio, "regression": bool(worse) and key not in MACHINE}
    return out

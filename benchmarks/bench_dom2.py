"""How fast is dom2lite's DOM2? One command, one machine, one table and one JSON file.

    python benchmarks/bench_dom2.py [--quick] [--out benchmarks/results/latest.json]
                                    [--compare benchmarks/results/previous.json] [--profile]
                                    [--chapters [--chapter-profile book]] [--threads 2] [--only step,eval]
                                    [--smoke] [--note "what else was running"]

Measured (3 agents with spread's sizes: obs 18, act 5, state 54; hidden 256x3 Mish; batch 256; N = 5):

- ``step``: one ``DOM2.update`` without CQL sampling (``cql_alpha = 0``) against the plain per-agent
  reference of ``reference_dom2.py`` (same maths), timed in alternation; the ratio reference / dom2lite;
  achieved GFLOP/s from the analytic count of ``flops.py``;
- ``peak``: the fp32 matrix-multiply peak, best of several 1024 and 2048 square ``torch.mm`` -> % of peak;
- ``act``: ``algo.act`` at batch 1 (median of many calls), also for the reference, and at batch 20;
- ``sample``: joint actions per second at batch 1024;
- ``eval``: ``dom2lite.train.evaluate.evaluate(algo, "spread", 20 episodes)`` joint steps per second
  (20 episodes in lock-step, one batched policy call per step: what the training runs do), and the
  same loop with a free policy (all-zero actions): the environments' own limit;
- ``cql``: the step with CQL's 10 uniform actions, and with 10 uniform + 2 x 10 policy actions, as
  ratios to the step without CQL (timed in alternation);
- ``--chapters``: every chapter of ``book/_toc.yml`` executed in a child process (slow; off by default).

Timing: warm-up calls first, ``time.perf_counter`` around each call, the median of the repeats (the
peak takes the best). ``--quick`` (and ``--smoke``, fewer still) only lower the number of repeats,
never the sizes.
With ``--compare`` (default ``benchmarks/results/previous.json`` when it exists) every figure is shown
as a ratio to the stored one and a package figure that got worse by more than 10 % is flagged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.compare import TARGETS, compare, describe, target_status  # noqa: E402
from benchmarks.flops import dom2_step_flops, matmul_flops  # noqa: E402
from benchmarks.reference_dom2 import ReferenceDOM2  # noqa: E402

GROUPS = ("step", "peak", "act", "sample", "eval", "cql")
EVAL_EPISODES = 20  # episodes stepped together, as the book and full MPE budgets evaluate
SIZES = dict(n_agents=3, obs_dim=18, act_dim=5, state_dim=54, hidden=(256, 256, 256), batch=256, n_steps=5)


# ------------------------------------------------------------------------------------------ set-up
def spread_spec() -> types.SimpleNamespace:
    n, a = SIZES["n_agents"], SIZES["act_dim"]
    return types.SimpleNamespace(n_agents=n, obs_dim=SIZES["obs_dim"], act_dim=a, state_dim=SIZES["state_dim"],
                                 act_mask=np.ones((n, a), bool))


def make_batch(seed: int = 0, batch: int | None = None):
    """A random mini-batch of joint transitions with spread's shapes (the values do not matter for speed);
    ``batch`` rows (default ``SIZES["batch"]``)."""
    from dom2lite.data.batch import Batch

    g = torch.Generator().manual_seed(seed)
    n, o, a, s = (SIZES[k] for k in ("n_agents", "obs_dim", "act_dim", "state_dim"))
    b = SIZES["batch"] if batch is None else batch
    return Batch(obs=torch.randn(b, n, o, generator=g), act=torch.rand(b, n, a, generator=g) * 2 - 1,
                 rew=torch.randn(b, n, generator=g), next_obs=torch.randn(b, n, o, generator=g),
                 state=torch.randn(b, s, generator=g), next_state=torch.randn(b, s, generator=g),
                 terminated=torch.zeros(b))


def make_dom2(**overrides):
    from dom2lite.algos import config_for, make_algo

    cfg = config_for("dom2", "spread", "medium", hidden=SIZES["hidden"], batch_size=SIZES["batch"],
                     n_diffusion_steps=SIZES["n_steps"], **{"cql_alpha": 0.0, **overrides})
    return make_algo("dom2", spread_spec(), cfg, "cpu"), cfg


def make_reference(cfg) -> ReferenceDOM2:
    return ReferenceDOM2(SIZES["n_agents"], SIZES["obs_dim"], SIZES["act_dim"], cfg.hidden, cfg.n_diffusion_steps,
                         gamma=cfg.gamma, tau=cfg.tau, eta=cfg.eta, grad_clip=cfg.grad_clip,
                         ema_decay=cfg.ema_decay, ema_every=cfg.ema_every, ema_start=cfg.ema_start, seed=cfg.seed)


# ------------------------------------------------------------------------------------------ timing
def timed(fn, warmup: int, repeats: int) -> list[float]:
    """Seconds per call of ``fn()`` for ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def alternating(fns: dict, warmup: int, rounds: int) -> dict[str, list[float]]:
    """Time several functions call by call in turn, so a change of machine load hits all of them alike."""
    for fn in fns.values():
        timed(fn, warmup, 0)
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            out[key] += timed(fn, 0, 1)
    return out


def median_ms(seconds: list[float]) -> float:
    return 1e3 * statistics.median(seconds)


# ------------------------------------------------------------------------------------------ measurements
def bench_step(reps: dict) -> tuple[dict, dict]:
    algo, cfg = make_dom2()
    ref, batch = make_reference(cfg), make_batch()
    t = alternating({"dom2lite": lambda: algo.update(batch), "reference": lambda: ref.update(batch)},
                    reps["warmup"], reps["step"])
    flops = dom2_step_flops(SIZES["obs_dim"], SIZES["act_dim"], cfg.hidden, cfg.t_dim, cfg.n_diffusion_steps,
                            SIZES["batch"], SIZES["n_agents"])
    ms, ms_ref = median_ms(t["dom2lite"]), median_ms(t["reference"])
    metrics = {"step_ms": ms, "step_ms_reference": ms_ref, "step_speedup": ms_ref / ms,
               "step_gflops": flops["total"] / (ms * 1e-3) / 1e9}
    return metrics, {"flops": flops, "step_ms_min": 1e3 * min(t["dom2lite"]),
                     "step_ms_reference_min": 1e3 * min(t["reference"])}


def bench_peak(reps: dict, sizes=(1024, 2048)) -> dict:
    """The best fp32 ``torch.mm`` rate over a few square sizes (the smaller one is less often preempted)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        best = max(best, matmul_flops(n) / min(timed(lambda: torch.mm(a, b), 2, reps["peak"])) / 1e9)
    return {"matmul_peak_gflops": best}


def bench_act(reps: dict) -> dict:
    algo, cfg = make_dom2()
    ref = make_reference(cfg)
    g = torch.Generator().manual_seed(1)
    obs1, obs_e = torch.randn(1, 3, 18, generator=g), torch.randn(EVAL_EPISODES, 3, 18, generator=g)
    t = alternating({"dom2lite": lambda: algo.act(obs1), "reference": lambda: ref.act(obs1)}, 20, reps["act"])
    t_e = timed(lambda: algo.act(obs_e), 10, reps["act"] // 2)
    return {"act_b1_ms": median_ms(t["dom2lite"]), "act_b1_ms_reference": median_ms(t["reference"]),
            "act_b20_ms": median_ms(t_e)}


def bench_sample(reps: dict, batch: int = 1024) -> dict:
    algo, _ = make_dom2()
    obs = torch.randn(batch, 3, 18, generator=torch.Generator().manual_seed(2))
    ms = median_ms(timed(lambda: algo.act(obs), 2, reps["sample"]))
    return {"sample_per_s_b1024": batch / (ms * 1e-3)}


def bench_eval(reps: dict, n_episodes: int = EVAL_EPISODES) -> dict:
    from dom2lite.train.evaluate import evaluate

    algo, _ = make_dom2()
    def still(obs):  # a free policy: what the environments alone allow
        return torch.zeros(obs.shape[0], obs.shape[1], SIZES["act_dim"])

    rates = {}
    for key, policy in (("eval_steps_per_s", algo), ("eval_env_only_steps_per_s", still)):
        evaluate(policy, "spread", n_episodes=n_episodes, device="cpu")  # warm-up: imports, first env build
        rates[key] = statistics.median(evaluate(policy, "spread", n_episodes=n_episodes, device="cpu")
                                       .joint_steps_per_second for _ in range(reps["eval"]))
    return rates


def bench_cql(reps: dict) -> tuple[dict, dict]:
    batch, fns, flops = make_batch(), {}, {}
    for key, over in (("none", {}), ("k10", dict(cql_alpha=1.0, cql_n_actions=10, cql_policy_actions=False)),
                      ("k10_policy", dict(cql_alpha=1.0, cql_n_actions=10, cql_policy_actions=True))):
        algo, cfg = make_dom2(**over)
        fns[key] = (lambda a: lambda: a.update(batch))(algo)
        flops[key] = dom2_step_flops(SIZES["obs_dim"], SIZES["act_dim"], cfg.hidden, cfg.t_dim, cfg.n_diffusion_steps,
                                     SIZES["batch"], SIZES["n_agents"], cfg.cql_alpha, cfg.cql_n_actions,
                                     cfg.cql_policy_actions)["total"]
    t = alternating(fns, min(2, reps["warmup"]), reps["cql"])
    ms = {k: median_ms(v) for k, v in t.items()}
    metrics = {"cql_k10_ms": ms["k10"], "cql_k10_ratio": ms["k10"] / ms["none"],
               "cql_k10_policy_ms": ms["k10_policy"], "cql_k10_policy_ratio": ms["k10_policy"] / ms["none"],
               "cql_k10_flop_ratio": flops["k10"] / flops["none"],
               "cql_k10_policy_flop_ratio": flops["k10_policy"] / flops["none"]}
    return metrics, {"cql_step_ms": ms, "cql_flops": flops}


def profile_top(fn, steps: int, top: int = 5) -> list[dict]:
    """The ``top`` operators by self CPU time over ``steps`` calls of ``fn`` (per-call ms and share)."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            fn()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [{"op": e.key, "self_ms_per_call": e.self_cpu_time_total / 1e3 / steps, "calls_per_call": e.count / steps,
             "share_pct": 100.0 * e.self_cpu_time_total / total} for e in events[:top]]


def bench_profile(reps: dict) -> dict:
    algo, cfg = make_dom2()
    ref, batch = make_reference(cfg), make_batch()
    obs1 = torch.randn(1, 3, 18)
    steps = reps["profile"]
    return {"step (dom2lite)": profile_top(lambda: algo.update(batch), steps),
            "step (reference)": profile_top(lambda: ref.update(batch), steps),
            "act batch 1 (dom2lite)": profile_top(lambda: algo.act(obs1), 20 * steps)}


# ------------------------------------------------------------------------------------------ report
def machine_info(threads: int) -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "loadavg_start": list(os.getloadavg()),
            "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
                    if k in os.environ}}


def fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def print_table(metrics: dict, comparison: dict) -> None:
    rows = [("metric", "value", "unit", "target", "", "vs previous")]
    for key, value in metrics.items():
        what, unit, _ = describe(key)
        target = TARGETS[key][0] + " " + fmt(TARGETS[key][1]) if key in TARGETS else ""
        cmp = comparison.get(key)
        vs = "" if cmp is None else f"{cmp['ratio']:.2f}x" + ("  REGRESSION" if cmp["regression"] else "")
        rows.append((f"{key}  ({what})", fmt(value), unit, target, target_status(key, value), vs))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))


def print_profile(profile: dict) -> None:
    for title, rows in profile.items():
        print(f"\nTop {len(rows)} ops by self CPU time: {title}")
        print(f"  {'op':<36} {'ms/call':>8} {'calls':>7} {'share':>7}")
        for r in rows:
            print(f"  {r['op'][:36]:<36} {r['self_ms_per_call']:8.3f} {r['calls_per_call']:7.0f} "
                  f"{r['share_pct']:6.1f}%")


# ------------------------------------------------------------------------------------------ main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (same sizes), under a minute")
    p.add_argument("--smoke", action="store_true",
                   help="the fewest repeats that give every figure (noisy; the book's Cost appendix runs it)")
    p.add_argument("--note", default="", help="free text stored with the machine, e.g. what else was running")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"),
                   help="JSON file to write ('' to write none)")
    p.add_argument("--compare", default=str(ROOT / "benchmarks" / "results" / "previous.json"),
                   help="stored figures to compare with (skipped when the file does not exist)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("DOM2LITE_THREADS", 2)))
    p.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated subset of {','.join(GROUPS)}")
    p.add_argument("--profile", action="store_true", help="top-5 ops by self CPU time of the step and the action")
    p.add_argument("--chapters", action="store_true", help="also time every book chapter (slow)")
    p.add_argument("--chapter-profile", default="book", choices=("smoke", "book", "full"))
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"--only: unknown group(s) {sorted(unknown)}; choose from {GROUPS}")
    torch.set_num_threads(args.threads)
    reps = (dict(warmup=1, step=3, peak=2, act=50, sample=2, eval=1, cql=1, profile=1) if args.smoke else
            dict(warmup=3, step=12, peak=5, act=200, sample=5, eval=3, cql=6, profile=3) if args.quick else
            dict(warmup=10, step=40, peak=20, act=2000, sample=20, eval=10, cql=20, profile=10))

    from dom2lite.provenance import provenance

    result = {"provenance": provenance(), "machine": {**machine_info(args.threads), "note": args.note},
              "settings": {"quick": args.quick, "smoke": args.smoke, **SIZES, "hidden": list(SIZES["hidden"]),
                           "repeats": reps},
              "metrics": {}, "details": {}}
    metrics, details = result["metrics"], result["details"]
    start = time.perf_counter()
    for group in GROUPS:
        if group not in groups:
            continue
        print(f"measuring {group} ...", flush=True)
        out = globals()[f"bench_{group}"](reps)
        m, d = out if isinstance(out, tuple) else (out, {})
        metrics.update(m)
        details.update(d)
    if "step_gflops" in metrics and "matmul_peak_gflops" in metrics:
        metrics["step_pct_peak"] = 100.0 * metrics["step_gflops"] / metrics["matmul_peak_gflops"]
    if args.chapters:
        from benchmarks.chapters import run_chapters

        print(f"running the book's chapters ({args.chapter_profile} profile) ...", flush=True)
        result["chapters"] = run_chapters(ROOT / "book", args.chapter_profile, args.threads)
        for name, r in result["chapters"].items():
            metrics[f"chapter/{name}/seconds"] = r["seconds"]
            metrics[f"chapter/{name}/maxrss_mb"] = r["kernel_maxrss_mb"]
    if args.profile:
        print("profiling ...", flush=True)
        result["profile"] = bench_profile(reps)
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    result["seconds"] = time.perf_counter() - start
    result["targets"] = {k: {"target": TARGETS[k][2], "value": metrics[k], "status": target_status(k, metrics[k])}
                         for k in TARGETS if k in metrics}
    comparison = {}
    if args.compare and Path(args.compare).is_file():
        comparison = compare(metrics, json.loads(Path(args.compare).read_text())["metrics"])
        result["comparison"] = {"file": str(args.compare), **comparison}

    m = result["machine"]
    print(f"\n{m['cpu_model']}, {m['threads']} threads, torch {m['torch']}, commit "
          f"{result['provenance']['git_commit'][:12]}, load average {m['loadavg_start'][0]:.1f} -> "
          f"{m['loadavg_end'][0]:.1f}, {result['seconds']:.0f} s{' (quick)' if args.quick else ''}"
          f"{' (smoke)' if args.smoke else ''}{'; ' + args.note if args.note else ''}\n")
    order = [k for k in ("step_ms", "step_ms_reference", "step_speedup", "step_gflops", "matmul_peak_gflops",
                         "step_pct_peak") if k in metrics]
    print_table({k: metrics[k] for k in order + [k for k in metrics if k not in order]}, comparison)
    for key, r in result.get("chapters", {}).items():
        if r["status"] != "ok":
            print(f"chapter {key}: {r['status']}")
    if comparison:
        flagged = [k for k, c in comparison.items() if c["regression"]]
        print(f"\ncompared with {args.compare}: " + (f"REGRESSIONS > 10 %: {', '.join(flagged)}" if flagged
                                                      else "no regression > 10 %"))
    if args.profile:
        print_profile(result["profile"])
    if args.out:
        from dom2lite.io import atomic_write_json

        atomic_write_json(args.out, result)
        print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()

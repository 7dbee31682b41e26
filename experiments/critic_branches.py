"""Which term of the critic loss drives a critic's tail? Train on from one checkpoint with one change at a time.

    python experiments/critic_branches.py RUN_DIR --checkpoint FILE [--steps 1000] [--every 250]
        [--branch ""] [--branch "cql_alpha=0"] [--branch "cql_hinge=true"] [--rows 64] --out FILE.json

Each branch rebuilds the run's algorithm with its ``--set``-style changes (``""``: none, the run as it
trained), loads the checkpoint (networks, optimisers, generator, multipliers) and the sampler's state,
so every branch draws the very same mini-batches, and trains ``--steps`` more updates (actors included).
Watched every ``--every`` updates, in raw reward units: the mean Q of the slot (head, agent) that holds
the checkpoint's lowest value on its ``--rows`` lowest transitions (the tail) and on as many uniformly
drawn ones (the control), Q on uniform actions at the tail's observations, and over the whole data set
how many transitions have Q below the lowest Monte-Carlo return minus the return range (as
``q_tail.py`` counts them). A change that stops the tail's fall while the control stays where it was
names the term that drove it.
"""

from __future__ import annotations

import argparse
import copy
import sys

import numpy as np
import torch


def main(argv=None) -> int:
    from dom2lite.algos import algo_class
    from dom2lite.algos.config import build_config
    from dom2lite.cli_values import parse_set
    from dom2lite.critics.calibration import monte_carlo_returns
    from dom2lite.critics.cql_samples import sample_uniform_actions
    from dom2lite.data.sampler import TransitionSampler
    from dom2lite.envs import env_spec
    from dom2lite.io import atomic_write_json
    from dom2lite.provenance import provenance
    from dom2lite.seeding import pin_threads
    from dom2lite.train.restore import training_data
    from dom2lite.train.runs import read_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--branch", action="append", default=None,
                        help='--set items separated by spaces, e.g. "cql_hinge=true cql_alpha=2" ("" = unchanged)')
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    pin_threads()
    cfg = read_config(args.run_dir)
    cls = algo_class(cfg["algo"])
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    data = training_data(args.run_dir)
    T = data.n_transitions
    rows_of = lambda x, rows: torch.as_tensor(np.asarray(x)[rows], dtype=torch.float32)  # noqa: E731
    mc = monte_carlo_returns(data, cfg["algo_config"]["gamma"])  # [T, n]
    lo, hi = np.percentile(mc, [1, 99])
    floor = float(mc.min() - (hi - lo))

    def build(changes: dict):
        algo = cls(env_spec(cfg["task"]), build_config(cls.config_class, {**cfg["algo_config"], **changes}), "cpu")
        algo.load_state_dict(copy.deepcopy(state["algo"]))  # Adam's loaded moments may be the stored tensors
        return algo

    def all_q(algo):  # [2, T, n], raw units
        with torch.no_grad():
            parts = [torch.stack(algo.critic(rows_of(data.obs, s), rows_of(data.act, s), rows_of(data.state, s)))
                     for s in np.array_split(np.arange(T), max(1, T // 32768))]
        return torch.cat(parts, dim=1) / float(algo.reward_scale)

    q0 = all_q(build({}))
    head, _, agent = (int(i) for i in np.unravel_index(int(q0.argmin()), q0.shape))
    slot0 = q0[head, :, agent].numpy()
    tail = np.argsort(slot0)[: args.rows]
    control = np.random.default_rng(0).choice(T, args.rows, replace=False)
    uniform = sample_uniform_actions(10, args.rows, torch.as_tensor(data.act_mask), torch.Generator().manual_seed(0))

    def watch(algo, step: int, td: list[float]) -> dict:
        q = all_q(algo)
        slot = q[head, :, agent].numpy()
        with torch.no_grad():
            q_u = torch.stack(algo.critic.many(rows_of(data.obs, tail), uniform, rows_of(data.state, tail)))
        return {"step": step, "tail_q": float(slot[tail].mean()), "control_q": float(slot[control].mean()),
                "tail_uniform_q": float(q_u[head, :, :, agent].mean() / float(algo.reward_scale)),
                "far_below": int((q.min(0).values.numpy() < floor).any(-1).sum()),
                "td_loss": float(np.mean(td)) if td else None}

    branches = []
    for spec in args.branch if args.branch is not None else [""]:
        changes = parse_set(spec.split(), cls.config_class) if spec.strip() else {}
        algo = build(changes).train()
        sampler = TransitionSampler(data, "cpu", seed=int(cfg["seed"]))
        sampler.load_state_dict(state["sampler"])
        trace, td = [watch(algo, 0, [])], []
        for step in range(1, args.steps + 1):
            metrics = algo.update(sampler.sample(algo.config.batch_size))
            td.append(float(metrics["td_loss"]))
            if step % args.every == 0:
                trace.append(watch(algo, step, td))
                td = []
                t = trace[-1]
                print(f"[{spec or 'unchanged'}] {step}: tail {t['tail_q']:.1f}, control {t['control_q']:.1f}, "
                      f"uniform at tail {t['tail_uniform_q']:.1f}, far {t['far_below']}, td {t['td_loss']:.3f}",
                      flush=True)
        branches.append({"changes": spec, "trace": trace})
    result = {"run_dir": args.run_dir, "checkpoint": args.checkpoint, "step": int(state["step"]),
              "task": cfg["task"], "quality": cfg["quality"], "algo": cfg["algo"], "seed": cfg["seed"],
              "slot": {"head": head + 1, "agent": agent}, "floor": floor, "rows": args.rows, "branches": branches}
    atomic_write_json(args.out, {"provenance": provenance(["python", *sys.argv]), "result": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

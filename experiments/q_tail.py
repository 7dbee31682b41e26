"""The tail of a critic's values on its whole data set: where a mean can be calibrated and a few values not.

    python experiments/q_tail.py RUN_DIR... --out results/calibration/q-tail-NAME.json [--keep-from FILE]

For every run folder: its final critic's Q on every transition of its data set (each head, raw reward
units), percentiles of the smaller head and of the Monte-Carlo returns (chapter 05's calibration
targets), how many transitions' Q lies below the lowest return minus the return range (``far_below``),
how far the two heads disagree there, which agents and which head the far values belong to, and how
many of those transitions the calibration's subsample holds; and there the median of each head and of
the TD target (one draw of the target policy's actions at o'), which tells a head that left its own
target from the end of a chain of low targets. The upper tail too: ``q_max`` and how many transitions'
Q lies above the highest return of the data (``above_max``), where a critic rates a state higher than
anything that ever followed in the data. The calibration figures of
``metrics.jsonl`` use a fixed subsample of 4,096 rows, in which a tail of a few dozen transitions of
100,000 weighs next to nothing. ``--keep-from FILE`` keeps the rows an earlier file holds for runs not
named here (seeds whose folders are gone; often the ``--out`` file itself).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

PERCENTILES = (0.001, 0.01, 0.1, 1, 50, 99, 99.9, 99.99, 100)


def main(argv=None) -> int:
    from dom2lite.critics.calibration import calibration_rows, monte_carlo_returns
    from dom2lite.critics.targets import td_target
    from dom2lite.errors import FileFieldError
    from dom2lite.seeding import pin_threads
    from dom2lite.train.restore import load_policy, training_data
    from dom2lite.train.runs import read_config
    from dom2lite.train.summary import kept_rows, write_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep-from", default=None, metavar="FILE",
                        help="keep this file's rows for runs not named here (a missing file keeps nothing)")
    args = parser.parse_args(argv)
    try:
        kept = kept_rows(args.keep_from, args.run_dirs)
    except FileFieldError as exc:
        parser.error(f"--keep-from: {exc}")
    pin_threads()
    rows = []
    for run_dir in args.run_dirs:
        cfg = read_config(run_dir)
        algo = load_policy(run_dir)
        data = training_data(run_dir)
        mc = monte_carlo_returns(data, algo.config.gamma)  # [T, n]
        heads = []
        with torch.no_grad():
            for i in range(0, data.n_transitions, 65536):
                part = slice(i, min(data.n_transitions, i + 65536))
                as_t = lambda x: torch.as_tensor(np.asarray(x[part]), dtype=torch.float32, device=algo.device)  # noqa: E731
                q1, q2 = algo.critic(as_t(data.obs), as_t(data.act), as_t(data.state))  # [b, n] each
                heads.append(torch.stack([q1, q2]).cpu().numpy() / float(algo.reward_scale))
        q = np.concatenate(heads, axis=1)  # [2, T, n]
        q_low = q.min(0)  # [T, n]
        lo, hi = np.percentile(mc, [1, 99])
        floor = mc.min() - (hi - lo)
        far = q_low < floor  # [T, n]
        far_rows = np.where(far.any(-1))[0]
        heads_far = target_far = None
        if far_rows.size:  # is a far value far from its own TD target, or the end of a chain of low targets?
            pick = lambda x: torch.as_tensor(np.asarray(x)[far_rows], dtype=torch.float32, device=algo.device)  # noqa: E731
            scale = float(algo.reward_scale)
            with torch.no_grad():
                a_next = algo.target_actions(pick(data.next_obs))  # [F, n, A]: one draw of the target policy
                t1, t2 = algo.critic_target(pick(data.next_obs), a_next, pick(data.next_state))  # [F, n] each
                y = td_target(pick(data.rew) * scale, pick(data.terminated), t1, t2, algo.config.gamma) / scale
            mask = far[far_rows]  # [F, n]
            heads_far = [float(np.median(q[k][far_rows][mask])) for k in (0, 1)]
            target_far = float(np.median(y.cpu().numpy()[mask]))
        rows.append({
            "run_dir": str(run_dir), "task": cfg["task"], "quality": cfg["quality"], "algo": cfg["algo"],
            "seed": cfg["seed"], "step": algo.trained_steps, "transitions": int(data.n_transitions),
            "q_percentiles": dict(zip(map(str, PERCENTILES), np.percentile(q_low, PERCENTILES).tolist())),
            "mc_percentiles": dict(zip(map(str, PERCENTILES), np.percentile(mc, PERCENTILES).tolist())),
            "q_min": float(q_low.min()), "floor": float(floor), "far_below": int(far.any(-1).sum()),
            "q_max": float(q_low.max()), "mc_max": float(mc.max()),
            "above_max": int((q_low > mc.max()).any(-1).sum()),  # transitions rated above every return
            "head_gap_far": float(np.abs(q[0] - q[1])[far].mean()) if far.any() else None,
            "far_by_agent": far.sum(0).tolist(),  # [n]: which agents' critics
            "far_by_head": [int((far & (q[k] <= q[1 - k])).sum()) for k in (0, 1)],  # the lower head there
            # of those, how many rows the calibration figures' fixed subsample holds
            "far_in_calibration_set": int(far.any(-1)[calibration_rows(data.n_transitions)].sum()),
            # medians over the far values: each head's Q, and the TD target r + gamma min(Q1', Q2')(o', a' ~ pi')
            "far_heads_median": heads_far, "far_target_median": target_far,
            "commit": cfg.get("provenance", {}).get("git_commit"),
        })
        r = rows[-1]
        print(f"{run_dir}: Q {r['q_min']:.1f} at the lowest, {r['far_below']} of {r['transitions']} transitions "
              f"below {floor:.1f} (lowest return {mc.min():.1f} minus the range)")
    write_rows(args.out, rows, kept, args.keep_from, ["python", *sys.argv])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

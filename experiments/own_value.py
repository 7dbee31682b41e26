"""Each run's critic against its own policy: Q(o_0, pi(o_0)) and the return the policy then earned.

    python experiments/own_value.py RUN_DIR... --out results/calibration/own-value-NAME.json [--keep-from FILE]

For every run folder: its final checkpoint's ``own_value`` over ``--episodes`` evaluation episodes (20 by
default; chapter 05), the share of the policy's action coordinates at the edge of the box (|a| > 0.95) on
the data's states, the critic's value of the policy's actions against the data's own at those states
(``policy_gap``, raw reward units; ``policy_gap_compounded``: the bias that gap would cause if every
backup passed it on, ``gap * gamma / (1 - gamma)``, as a fraction of the data's return range), the
policy's team return over those episodes normalised with the data's reference returns
(``team_normalised``: a re-evaluation on other episodes than training's), and the run's setting, config
and commit; the file records the command that made it. ``--keep-from FILE`` keeps the rows an earlier
file holds for runs not named here (seeds checked on another machine, whose folders are gone; often the
``--out`` file itself). A run without a critic (BC) gets the re-evaluation alone: its ``team_return`` and
``team_normalised`` on the same episodes, the critic's fields None.
"""

from __future__ import annotations

import argparse
import sys

import torch

EPISODE_SEED = 10_000
"""Episode i of the re-evaluation is seeded with ``EPISODE_SEED + i``, with or without a critic."""
CRITIC_FIELDS = ("q_start", "return_start", "gap", "action_at_edge", "policy_gap", "policy_gap_compounded",
                 "return_range")


def main(argv=None) -> int:
    from dom2lite.critics.calibration import policy_gap
    from dom2lite.data.card import normalised_score
    from dom2lite.errors import FileFieldError
    from dom2lite.seeding import pin_threads
    from dom2lite.train.evaluate import evaluate
    from dom2lite.train.own_value import own_value
    from dom2lite.train.restore import critic_and_calibration_set, load_policy, run_card
    from dom2lite.train.runs import read_config
    from dom2lite.train.summary import kept_rows, write_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--episodes", type=int, default=20)
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
        loaded = critic_and_calibration_set(run_dir, "cpu")
        cfg = read_config(run_dir)
        card = run_card(run_dir)
        common = {"run_dir": run_dir, "task": cfg["task"], "quality": cfg["quality"], "algo": cfg["algo"],
                  "seed": cfg["seed"], "episodes": args.episodes, "algo_config": cfg["algo_config"],
                  "commit": cfg.get("provenance", {}).get("git_commit")}
        if loaded is None:  # no critic: the policy re-evaluated on the episodes own_value rolls out
            algo = load_policy(run_dir, "cpu")
            team = evaluate(algo, cfg["task"], n_episodes=args.episodes, seed=EPISODE_SEED).mean
            rows.append({**common, "step": algo.trained_steps, "team_return": team,
                         "team_normalised": None if card is None else normalised_score(team, card),
                         **dict.fromkeys(CRITIC_FIELDS)})
            print(f"{run_dir}: step {algo.trained_steps}, no critic; team return {team:.2f}")
            continue
        algo, cset = loaded
        mine = own_value(algo, cfg["task"], n_episodes=args.episodes, seed=EPISODE_SEED)
        with torch.no_grad():
            act = algo.act(cset.obs)  # [R, n, A] the policy's actions at the data's observations
            edge = float((act.abs() > 0.95).float().mean())
        gap_pi = policy_gap(algo.critic, act, cset, float(algo.reward_scale))
        rows.append({**common, "step": algo.trained_steps, "q_start": mine.q_start,
                     "return_start": mine.return_start, "gap": mine.gap, "team_return": mine.team_return,
                     "action_at_edge": edge, "policy_gap": gap_pi,
                     "policy_gap_compounded": gap_pi * algo.config.gamma / (1.0 - algo.config.gamma) / cset.return_range,
                     "return_range": cset.return_range,
                     "team_normalised": None if card is None else normalised_score(mine.team_return, card)})
        print(f"{run_dir}: step {algo.trained_steps}, Q(o0, pi(o0)) {mine.q_start:.2f}, "
              f"its return {mine.return_start:.2f}, at the edge {edge:.2f}, "
              f"Q(o, pi(o)) - Q(o, a) on the data {gap_pi:.2f}")
    write_rows(args.out, rows, kept, args.keep_from, ["python", *sys.argv])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

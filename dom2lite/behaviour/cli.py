"""``python -m dom2lite behaviour train | export | show``: the behaviour policies from the command line.

- ``train --task spread --seed 0 [--steps N] [--max-minutes M]``: train or continue a run in
  ``<out>/behaviour/{task}/s{seed}/`` (rerun the same command to continue after a stop);
- ``export --task spread --seed 0``: write the chosen snapshots and ``provenance.json`` into
  ``dom2lite/assets/behaviour/{task}/``;
- ``show --task spread``: print what is shipped (references, which snapshot is which, the training
  curve and the curve measured at export).
Explained in chapter 02.
"""

from __future__ import annotations

import argparse
import json

from dom2lite.behaviour.config import BEHAVIOUR_TASKS as TASK_CHOICES


def _default_out() -> str:
    from dom2lite.train.runs import default_runs_root

    return str(default_runs_root())


def _parse_set(items: list[str]) -> dict:
    """``--set`` values typed by ``MATD3Config`` (``ConfigError`` naming a wrong field or value)."""
    from dom2lite.behaviour.config import MATD3Config
    from dom2lite.cli_values import parse_set

    return parse_set(items, MATD3Config)


def _train(args: argparse.Namespace) -> int:
    import sys

    from dom2lite.behaviour.config import default_config
    from dom2lite.behaviour.train import train_behaviour
    from dom2lite.seeding import pin_threads

    pin_threads()
    cfg = default_config(args.task, **_parse_set(args.set))
    outcome = train_behaviour(args.task, seed=args.seed, steps=args.steps, out=args.out, config=cfg,
                              max_minutes=args.max_minutes, progress=not args.no_progress, device=args.device,
                              command=["python", "-m", "dom2lite", *getattr(args, "argv", sys.argv[1:])])
    state = "finished" if outcome.done else "paused (rerun the same command to continue)"
    last = outcome.curve[-1] if outcome.curve else (outcome.step, float("nan"))
    print(f"{args.task} seed {args.seed}: {state} at step {outcome.step}; "
          f"last evaluation return {last[1]:.2f} (step {last[0]}); run folder {outcome.run_dir}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import sys

    from dom2lite.behaviour.export import export_behaviour
    from dom2lite.seeding import pin_threads

    pin_threads()
    rec = export_behaviour(args.task, seed=args.seed, out=args.out, dest=args.dest, n_replay=args.n_replay,
                           reference_episodes=args.reference_episodes, final_step=args.final_step,
                           progress=not args.no_progress,
                           command=["python", "-m", "dom2lite", *getattr(args, "argv", sys.argv[1:])])
    pol = rec["policies"]
    print(json.dumps({"reference_returns": rec["reference_returns"],
                      "expert_step": pol["expert"]["step"], "medium_step": pol["medium"]["step"],
                      "replay_steps": [r["step"] for r in pol["replay"]]}, indent=2))
    return 0


def _show(args: argparse.Namespace) -> int:
    from dom2lite.behaviour.policy import shipped_provenance

    rec = shipped_provenance(args.task)
    keys = ("task", "seed", "reference_returns", "reference_episodes", "policies", "curve", "measured_curve")
    print(json.dumps({k: rec[k] for k in keys if k in rec}, indent=2))
    return 0


def register(subparsers) -> None:
    """Add ``behaviour`` and its sub-commands to the top-level ``python -m dom2lite`` parser."""
    from dom2lite.cli_values import device_name, positive_float, positive_int, seed_int

    p = subparsers.add_parser("behaviour", help="train, export and inspect the behaviour policies (online MATD3)")
    sub = p.add_subparsers(dest="behaviour_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    t = sub.add_parser("train", help="train or continue MATD3 behaviour policies (resumable)")
    t.add_argument("--task", required=True, choices=TASK_CHOICES)
    t.add_argument("--seed", type=seed_int, default=0)
    t.add_argument("--steps", type=positive_int, default=None,
                   help="total joint transitions (default: the task's config)")
    t.add_argument("--out", default=_default_out(), help="runs root (default: $DOM2LITE_RUNS or ./runs)")
    t.add_argument("--max-minutes", type=positive_float, default=None, help="stop this piece after about M minutes")
    t.add_argument("--device", type=device_name, default=None)
    t.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a MATD3Config field")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_train)

    e = sub.add_parser("export", help="ship a finished run's expert/medium/replay snapshots with provenance")
    e.add_argument("--task", required=True, choices=TASK_CHOICES)
    e.add_argument("--seed", type=seed_int, default=0)
    e.add_argument("--out", default=_default_out())
    e.add_argument("--dest", default=None, help="default: dom2lite/assets/behaviour/{task}")
    e.add_argument("--n-replay", type=positive_int, default=5, help="snapshots that medium-replay rolls out")
    e.add_argument("--reference-episodes", type=positive_int, default=None,
                   help="fixed-seed episodes measuring the references and every candidate medium snapshot "
                        "(default: export.REFERENCE_EPISODES, 100; world 400)")
    e.add_argument("--final-step", type=seed_int, default=None,
                   help="export the run as it was at this step (default: its last snapshot)")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=_export)

    s = sub.add_parser("show", help="print the provenance of the shipped behaviour policies")
    s.add_argument("--task", required=True, choices=TASK_CHOICES)
    s.set_defaults(func=_show)

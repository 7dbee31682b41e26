"""``python -m dom2lite train | evaluate | plot``: offline training runs from the command line.

- ``train --task spread --algo dom2 --quality expert --seed 0``: a new run folder
  ``runs/{task}__{algo}__{seed}__{time}/``; ``--run-dir DIR`` reopens one and continues it after an
  interruption (same result as an uninterrupted run). ``--seeds 0-4`` trains five seeds in this one
  process as members of one batched algorithm (each writes an ordinary run folder; ``--run-dir`` then
  takes a template such as ``'runs/spread-dom2-s{seed}'``). Budgets come from the profile
  (``DOM2LITE_PROFILE`` or ``--profile``); ``--steps``, ``--eval-every`` and ``--set FIELD=VALUE``
  always win over presets. A missing data set is generated first at the profile's size (as the chapters
  do); ``--no-generate`` refuses instead and prints the command that makes it. Every option is checked
  before anything runs: an explicit 0 or an out-of-range value is an error, never "the default".
- ``evaluate RUN_DIR [--shift speed --strength 1.0] [--episodes 20]``: the final policy of a run on
  the standard or a shifted environment; the result is printed and saved as ``eval_*.json`` in the run,
  with the critic's calibration on its data set (Q against the Monte-Carlo return, chapter 05) and on
  the policy's own episodes (``own_value``: Q(o_0, pi(o_0)) against the return the policy earned).
- ``plot RUN_DIR... --out curves.png [--key eval/mean --key critic_loss]``: learning curves.
- ``summarise RUN_DIR... [--out results/NAME.json] [--keep-from results/NAME.json]``: final score,
  calibration and td_loss trend per setting, mean ± std over seeds (:mod:`dom2lite.train.summary`); the
  runs an earlier file summarised whose folders are gone can be kept.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dom2lite.cli_values import device_name, non_negative_float, positive_int, seed_int, seed_list, unit_fraction
from dom2lite.data.paths import QUALITIES
from dom2lite.envs import TASKS


def _algo_name(raw: str) -> str:
    """``--algo``: a registered algorithm (papers' spellings accepted), as its canonical name."""
    from dom2lite.algos import canonical_name
    from dom2lite.errors import ConfigError

    try:
        return canonical_name(raw)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _checked_overrides(args: argparse.Namespace) -> dict:
    """``--set`` values typed by the algorithm's config, then the whole config built once so that ranges
    and choices are checked before any data is made or loaded (``ConfigError`` naming the field)."""
    from dom2lite.algos import ALGOS, algo_class
    from dom2lite.cli_values import parse_set
    from dom2lite.train.experiment import resolve_run_config

    others = {name: algo_class(name).config_class for name in ALGOS if name != args.algo}
    overrides = parse_set(args.set, algo_class(args.algo).config_class, others=others, reserved={"seed": "--seed"})
    resolve_run_config(args.algo, args.task, args.quality, _seeds(args)[0], args.profile, overrides)
    return overrides


def _seeds(args: argparse.Namespace) -> list[int]:
    """``--seeds`` (members in one process) or ``--seed`` (default 0); not both."""
    from dom2lite.errors import ConfigError

    if args.seeds is not None and args.seed is not None:
        raise ConfigError("--seed", "give --seed or --seeds, not both")
    return args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]


def _train(args: argparse.Namespace) -> int:
    import shlex

    from dom2lite.allocator import keep_freed_memory
    from dom2lite.data.ensure import generate_if_missing, profile_data_dir
    from dom2lite.device import resolve_device
    from dom2lite.seeding import pin_threads
    from dom2lite.train.experiment import member_run_dirs, train_members
    from dom2lite.train.runs import new_run_dirs

    pin_threads()
    keep_freed_memory()  # large activations are reused, not page-faulted in at every step (allocator.py)
    resolve_device(args.device)  # a bad --device or DOM2LITE_DEVICE is refused before any data is made
    seeds = _seeds(args)
    overrides = _checked_overrides(args)
    if args.run_dir is None:
        run_dirs = new_run_dirs(args.task, args.algo, seeds, args.runs_root)
        # how to name them all again: the common folder with {seed} in the seed's place
        again_dir = str(run_dirs[0]).replace(f"__{seeds[0]}__", "__{seed}__", 1) if len(seeds) > 1 else str(run_dirs[0])
    else:
        templated = len(seeds) > 1 or "{seed}" in args.run_dir
        run_dirs = member_run_dirs(args.run_dir, seeds) if templated else [Path(args.run_dir)]
        again_dir = args.run_dir
    data_dir = Path(args.data_dir) if args.data_dir is not None else profile_data_dir(args.profile)
    generate_if_missing(args.task, args.quality, args.data_seed, args.profile, data_dir,  # as the chapters do
                        progress=not args.no_progress, refuse=args.no_generate)
    command = ["python", "-m", "dom2lite", *getattr(args, "argv", sys.argv[1:])]
    again = command if args.run_dir is not None else [*command, "--run-dir", again_dir]
    try:
        results = train_members(
            args.task, args.algo, args.quality, seeds, data_seed=args.data_seed, data_dir=data_dir,
            data_fraction=args.data_fraction, augment=args.augment, overrides=overrides,
            steps=args.steps, eval_every=args.eval_every, eval_episodes=args.eval_episodes,
            checkpoint_every=args.checkpoint_every, profile=args.profile,
            run_dirs=run_dirs, stop_after=args.stop_after,
            progress=not args.no_progress, device=args.device, command=command,
        )
    except KeyboardInterrupt:
        if not (run_dirs[0] / "config.json").is_file():
            raise
        print(f"error: interrupted ({again_dir}): stopped by Ctrl-C; continue from its last checkpoint with: "
              f"{shlex.join(again)}", file=sys.stderr)
        return 130
    for seed, result in zip(seeds, results):
        who = "" if len(seeds) == 1 else f"seed {seed}: "
        if result.finished and result.final_eval:
            ev = result.final_eval
            norm = "" if ev.get("eval/normalised_mean") is None else \
                f", normalised {ev['eval/normalised_mean']:.1f} ± {ev['eval/normalised_std']:.1f}"
            print(f"{who}finished: final return {ev['eval/mean']:.2f} ± {ev['eval/std']:.2f}{norm}")
    if not all(r.finished for r in results):
        print(f"paused; continue with: {shlex.join(again)}")
    for result in results:
        print(result.run_dir)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from dom2lite.io import atomic_write_json
    from dom2lite.seeding import pin_threads
    from dom2lite.train.restore import evaluate_run

    pin_threads()
    result = evaluate_run(args.run_dir, shift=args.shift, shift_strength=args.strength,
                          n_episodes=args.episodes, device=args.device)
    name = "eval_standard.json" if args.shift is None else f"eval_{args.shift}_{args.strength:g}.json"
    out = {**result.as_dict(prefix=""), "returns": result.returns}
    if args.shift is None and not args.no_calibration:
        from dom2lite.critics.calibration import calibration_metrics
        from dom2lite.train.own_value import own_value
        from dom2lite.train.restore import critic_and_calibration_set
        from dom2lite.train.runs import read_config

        loaded = critic_and_calibration_set(args.run_dir, device=args.device)  # one load for both checks
        if loaded is not None:
            algo, cset = loaded
            calib = calibration_metrics(algo.critic, cset, float(algo.reward_scale))
            out["calibration"] = {k.removeprefix("calib/"): v for k, v in calib.items()}
            mine = own_value(algo, read_config(args.run_dir)["task"], n_episodes=args.episodes)  # its own episodes
            out["own_value"] = {"q_start": mine.q_start, "return_start": mine.return_start, "gap": mine.gap}
    atomic_write_json(Path(args.run_dir) / name, out)
    print(json.dumps(out, indent=2))
    return 0


def _logged_keys(run_dirs) -> set[str]:
    """Every metric some run logged (a folder that is not a run is named)."""
    from dom2lite.train.runs import MetricsLog, read_config

    logged: set[str] = set()
    for d in run_dirs:
        read_config(d)
        for row in MetricsLog(d).read():
            logged.update(row)
    logged.discard("step")
    return logged


def _check_keys(logged: set[str], keys) -> None:
    """Every key must be logged by at least one run (else its panel would be silently empty)."""
    from dom2lite.errors import ConfigError

    for key in keys:
        if key not in logged:
            raise ConfigError("--key", f"no run logged {key!r}", hint=f"choose from {', '.join(sorted(logged))}")


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from dom2lite.train.curves import plot_runs

    logged = _logged_keys(args.run_dirs)
    keys = tuple(args.key or [k for k in ("eval/mean", "calib/bias", "td_loss") if k in logged] or ["eval/mean"])
    _check_keys(logged, keys)
    fig = plot_runs(args.run_dirs, keys=keys)
    fig.savefig(args.out, dpi=120)
    print(args.out)
    return 0


def _summarise(args: argparse.Namespace) -> int:
    from dom2lite.errors import ConfigError
    from dom2lite.io import atomic_write_json
    from dom2lite.provenance import provenance
    from dom2lite.train.summary import stored_runs, summarise

    keep = None
    if args.keep_from:
        if args.until is not None:
            raise ConfigError("--until", "cannot be combined with --keep-from",
                              hint="the kept runs are summarised as they were stored; leave out one of the two")
        keep = stored_runs(args.keep_from)
    out = summarise(args.run_dirs, until=args.until, keep=keep)
    if args.out:
        command = ["python", "-m", "dom2lite", *getattr(args, "argv", sys.argv[1:])]
        kept = {r["run_dir"] for r in out["runs"]} - {str(Path(d)) for d in args.run_dirs}
        extra = {"kept_from": {"file": args.keep_from, "runs": sorted(kept)}} if keep is not None else {}
        atomic_write_json(args.out, {**out, **extra, "provenance": provenance(command)})
    for key, entry in out["settings"].items():
        shown = [f"{name.split('/')[-1]} {entry[name]['mean']:.3g} ± {entry[name]['std']:.2g}"
                 for name in ("eval/normalised_mean", "calib/bias_frac", "td_growth") if name in entry]
        state = "" if entry["finished"] else f", unfinished: step {entry['last_eval_step']}"
        print(f"{key} (seeds {entry['seeds']}{state}): {'; '.join(shown)}")
    if args.out:
        print(args.out)
    return 0


def register(subparsers) -> None:
    """Add ``train``, ``evaluate``, ``plot`` and ``summarise`` to the top-level sub-commands."""
    t = subparsers.add_parser("train", help="train an offline algorithm (DOM2 or a baseline) on a data set",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--task", choices=TASKS, required=True)
    t.add_argument("--algo", required=True, type=_algo_name,
                   help="dom2 | bc | td3bc | cql | omar (papers' spellings accepted)")
    t.add_argument("--quality", choices=QUALITIES, default="expert")
    t.add_argument("--seed", type=seed_int, default=None,
                   help="seeds the networks, the sampler and the algorithm's noise (default 0)")
    t.add_argument("--seeds", type=seed_list, default=None, metavar="SEEDS",
                   help="several seeds (0-4, 0,2,7) trained together in one process, one run folder each; "
                        "--run-dir then names {seed}")
    t.add_argument("--data-seed", type=seed_int, default=0, help="which generated data set (default 0)")
    t.add_argument("--data-dir", default=None,
                   help="folder of the data sets (default: the profile's: data/smoke, data/book, data for full)")
    t.add_argument("--no-generate", action="store_true",
                   help="refuse to start when the data set is missing (default: generate it at the profile's size)")
    t.add_argument("--data-fraction", type=unit_fraction, default=1.0,
                   help="train on this fraction of the episodes, in (0, 1]")
    t.add_argument("--augment", action="store_true", help="trajectory-based data augmentation (chapter 06)")
    t.add_argument("--steps", type=positive_int, default=None, help="gradient steps (default: the profile's budget)")
    t.add_argument("--eval-every", type=positive_int, default=None)
    t.add_argument("--eval-episodes", type=positive_int, default=None)
    t.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="gradient steps between checkpoints")
    t.add_argument("--profile", choices=("smoke", "book", "full"), default=None,
                   help="budget preset (default: $DOM2LITE_PROFILE or book)")
    t.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a field of the algorithm's config (typed and checked before anything runs)")
    t.add_argument("--run-dir", default=None,
                   help="continue (or create) this run folder (with --seeds a template naming {seed})")
    t.add_argument("--runs-root", default=None, help="where new run folders go (default: $DOM2LITE_RUNS or ./runs)")
    t.add_argument("--stop-after", type=positive_int, default=None,
                   help="stop this piece after N steps (resumable)")
    t.add_argument("--device", type=device_name, default=None,
                   help="cpu | cuda | cuda:1 (default: CUDA when available)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_train)

    e = subparsers.add_parser("evaluate", help="evaluate a run's final policy (standard or shifted environment)")
    e.add_argument("run_dir")
    e.add_argument("--shift", default=None, help="a shift name (see chapter 09); default: the standard env")
    e.add_argument("--strength", type=non_negative_float, default=1.0)
    e.add_argument("--episodes", type=positive_int, default=20)
    e.add_argument("--device", type=device_name, default=None)
    e.add_argument("--no-calibration", action="store_true",
                   help="skip the critic's Q against the data's Monte-Carlo returns and against the "
                        "policy's own return (printed by default)")
    e.set_defaults(func=_evaluate)

    p = subparsers.add_parser("plot", help="learning curves of one or more run folders")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--key", action="append",
                   help="metric to plot (repeatable; default: eval/mean, and calib/bias and td_loss where logged)")
    p.add_argument("--out", default="curves.png")
    p.set_defaults(func=_plot)

    s = subparsers.add_parser("summarise", help="final scores, calibration and td_loss trend of run folders "
                                                "(mean ± std over seeds)")
    s.add_argument("run_dirs", nargs="+")
    s.add_argument("--out", default=None, help="write the summary with provenance to this JSON file")
    s.add_argument("--until", type=positive_int, default=None,
                   help="summarise every run as of this step (ignore what was logged after it)")
    s.add_argument("--keep-from", default=None, metavar="FILE",
                   help="keep the runs this results file summarised whose folders are not given here "
                        "(a grid continued on another machine); a missing file keeps nothing")
    s.set_defaults(func=_summarise)

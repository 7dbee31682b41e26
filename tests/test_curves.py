"""Learning-curve figures: one colour per run on every panel, and a legend that lists every run."""

from __future__ import annotations

import matplotlib
import pytest

from dom2lite.train.curves import plot_runs
from dom2lite.train.runs import MetricsLog, write_config

matplotlib.use("Agg")


def _fake_run(folder, algo, rows):
    write_config(folder, {"task": "spread", "algo": algo, "quality": "medium"})
    log = MetricsLog(folder)
    for row in rows:
        log.append(row)
    return folder


@pytest.mark.parametrize("lacking", ["td3bc", "cql"])
def test_a_run_keeps_its_colour_when_another_lacks_a_key(tmp_path, lacking):
    runs = []
    for algo in ("td3bc", "cql"):
        rows = [{"step": s, "eval/mean": float(s)} for s in (1, 2)]
        if algo != lacking:
            rows += [{"step": s, "q_mean": -float(s)} for s in (1, 2)]
        runs.append(_fake_run(tmp_path / algo, algo, rows))
    fig = plot_runs(runs, keys=("q_mean", "eval/mean"))
    colours = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            assert colours.setdefault(line.get_label(), line.get_color()) == line.get_color(), line.get_label()
    assert len(set(colours.values())) == 2
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(legend) == sorted(colours)  # the run the first panel lacks is listed too
    matplotlib.pyplot.close(fig)

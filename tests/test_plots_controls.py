"""The control studies' summaries on hand-made results: gains, verdicts and the affinity rank correlation."""

import numpy as np
import pandas as pd

from harness.plots_controls import analyse_affinity, analyse_transfer, analyse_weighting
from harness.studies import width_ends


def payload(config: dict, records: list[dict], **extra) -> dict:
    return {"status": "ok", "config": config, "records": records, **extra}


TRANSFER_LOSSES = {"stl": 0.6, "mtl": 0.5, "mtl_shuffled": 0.6, "transfer_head": 0.55, "transfer_full": 0.7}


def transfer_jobs(points) -> list[dict]:
    """Per (n_target, n_other): target task 0, and per seed stl's loss is 0.6 and each
    arm's is fixed below it or above it."""
    jobs = []
    for n_target, n_other in points:
        config = {"data": {"n_target": n_target, "n_other": n_other, "target": 0}}
        rows = [
            {"arm": arm, "task": 0, "seed": s, "test_bce": loss + 0.01 * s * (arm == "mtl_shuffled"), "test_auroc": 0.7}
            for arm, loss in TRANSFER_LOSSES.items()
            for s in range(3)
        ]
        rows += [
            {"arm": "stl", "task": 1, "seed": s, "test_bce": 9.0, "test_auroc": 0.1} for s in range(3)
        ]  # not target
        jobs.append(payload(config, rows))
    return jobs


def test_transfer_verdicts_follow_the_paired_gains(tmp_path):
    summary = analyse_transfer(transfer_jobs([(10, 1000), (100, 1000)]), tmp_path)
    text = summary.text
    assert "At 10 target labels and 1000 labels per source task" in text
    assert "| mtl vs stl (test log loss) | sharing helps the few-label target | +0.1000" in text
    assert "| mtl_shuffled vs stl (test log loss) |" in text and "no detectable difference (CI contains 0)" in text
    assert "| transfer_full vs mtl (test log loss) | fine-tuning beats sharing, same steps | -0.2000" in text
    assert "| transfer_head vs stl (test AUROC) | pretrain + new head helps | +0.0000" in text
    assert (tmp_path / "transfer_vs_mtl.png").exists()
    holds = {f.comparison: f.holds for f in summary.findings}
    assert holds["mtl vs stl (test log loss)"] == "yes" and holds["transfer_full vs mtl (test log loss)"] == "no"
    assert holds["mtl_shuffled vs stl (test log loss)"] == "yes", "a control that shows no gain holds"


def test_a_transfer_sweep_cut_short_reports_the_points_it_has(tmp_path):
    # (10 target, 1000 source) never finished: the headline moves to the most source labels run at 10.
    text = analyse_transfer(transfer_jobs([(10, 100), (100, 100), (100, 1000)]), tmp_path).text
    assert "At 10 target labels and 100 labels per source task" in text
    assert "| 1000 | 100 |" in text and "| 1000 | 10 |" not in text


def test_a_weighting_sweep_cut_short_reports_the_jobs_it_has(tmp_path):
    # uncertainty never ran; pcgrad ran only at rho 0.2. Per seed: stl 0.6, mtl 0.5 (equal) or 0.55 (pcgrad).
    jobs = []
    for weighting, rho in (("equal", 0.2), ("equal", 0.8), ("pcgrad", 0.2)):
        loss = {"equal": 0.5, "pcgrad": 0.55}[weighting]
        rows = [
            {"arm": arm, "task": t, "seed": s, "test_bce": value + 0.001 * s, "test_auroc": 0.7}
            for arm, value in (("mtl", loss), ("stl", 0.6))
            for t in range(2)
            for s in range(3)
        ]
        jobs.append(payload({"train": {"weighting": weighting}, "data": {"relatedness": rho}}, rows))
    summary = analyse_weighting(jobs, tmp_path)
    assert "| test log loss | 0.2 | pcgrad | +0.0500 [+0.0500, +0.0500] | -0.0500 [-0.0500, -0.0500] |" in summary.text
    assert "| test log loss | 0.8 | equal | +0.1000 [+0.1000, +0.1000] | (reference) |" in summary.text
    assert "uncertainty" not in summary.text and "| 0.8 | pcgrad |" not in summary.text
    assert [f.comparison for f in summary.verdicts] == ["pcgrad vs equal, rho=0.2 (test log loss)"]
    assert (tmp_path / "weighting.png").exists()


def test_capacity_reports_each_task_counts_own_widest_and_narrowest_run():
    # K=16 never reached width 64; its largest width run was 8.
    gain = pd.DataFrame(
        {"model.width": [64, 2, 8], "mean": [0.3, -0.1, 0.2], "low": [0.2, -0.2, 0.1], "high": [0.4, 0.0, 0.3]}
    )
    assert width_ends(gain, "K=16") == "K=16: width 2 -0.100 [-0.200, +0.000], width 64 +0.300 [+0.200, +0.400]"
    assert width_ends(gain.iloc[1:], "K=16") == "K=16: width 2 -0.100 [-0.200, +0.000], width 8 +0.200 [+0.100, +0.300]"


def test_affinity_rank_correlation_uses_directed_pair_gains(tmp_path):
    z = np.array([[0.0, 3.0, 1.0], [2.0, 0.0, -1.0], [0.5, -2.0, 0.0]])  # Z[i, j]: i stepped, j helped
    groups = [[0, 1], [0, 2], [1, 2]]
    rows = [{"arm": "stl", "task": k, "network": k, "seed": 0, "test_bce": 1.0} for k in range(3)]
    for network, (a, b) in enumerate(groups):  # gain of j with partner i equals Z[i, j] / 10
        rows += [
            {"arm": "pairs", "task": j, "network": network, "seed": 0, "test_bce": 1.0 - z[i, j] / 10}
            for i, j in ((a, b), (b, a))
        ]
    job = payload(
        {"data": {"relatedness": 0.5}}, rows, affinity={"matrix": [z.tolist()]}, arms={"pairs": {"groups": groups}}
    )
    text = analyse_affinity([job], tmp_path).text
    assert "all 6 directed pairs: +1.000" in text

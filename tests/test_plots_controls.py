"""The control studies' summaries on hand-made results: gains, verdicts and the affinity rank correlation."""

import numpy as np

from harness.plots_controls import analyse_affinity, analyse_transfer


def payload(config: dict, records: list[dict], **extra) -> dict:
    return {"status": "ok", "config": config, "records": records, **extra}


def test_transfer_verdicts_follow_the_paired_gains(tmp_path):
    # Target task 0; per seed, stl's loss is 0.6 and each arm's is fixed below it or above it.
    losses = {"stl": 0.6, "mtl": 0.5, "mtl_shuffled": 0.6, "transfer_head": 0.55, "transfer_full": 0.7}
    jobs = []
    for n_target in (10, 100):
        config = {"data": {"n_target": n_target, "n_other": 1000, "target": 0}}
        rows = [
            {"arm": arm, "task": 0, "seed": s, "test_bce": loss + 0.01 * s * (arm == "mtl_shuffled"), "test_auroc": 0.7}
            for arm, loss in losses.items()
            for s in range(3)
        ]
        rows += [
            {"arm": "stl", "task": 1, "seed": s, "test_bce": 9.0, "test_auroc": 0.1} for s in range(3)
        ]  # not target
        jobs.append(payload(config, rows))
    text = analyse_transfer(jobs, tmp_path)
    assert "At 10 target labels and 1000 labels per source task" in text
    assert "| mtl vs stl (test log loss) | sharing helps the few-label target | +0.1000" in text
    assert "| mtl_shuffled vs stl (test log loss) |" in text and "no detectable difference (CI contains 0)" in text
    assert "| transfer_full vs mtl (test log loss) | fine-tuning beats sharing, same steps | -0.2000" in text
    assert "| transfer_head vs stl (test AUROC) | pretrain + new head helps | +0.0000" in text
    assert (tmp_path / "transfer_vs_mtl.png").exists()


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
    text = analyse_affinity([job], tmp_path)
    assert "all 6 directed pairs: +1.000" in text

"""The studies' analyses on hand-made results: paired gains, verdicts and the affinity rank correlation."""

import numpy as np
from fake_results import write

from harness.analysis.collect import collect
from harness.analysis.studies import affinity, capacity, transfer, weighting
from harness.config import RunConfig, to_dict


def result(records: list[dict], arms: list[str], study: str, **config) -> dict:
    run = RunConfig(study=study, arms=arms)
    for dotted, value in config.items():
        section, key = dotted.split("__")
        setattr(getattr(run, section), key, value)
    return {"schema_version": 1, "status": "ok", "config": to_dict(run), "records": records, "overrides": []}


def rows(arm: str, loss: float, seeds: int = 3, tasks=(0,), **extra) -> list[dict]:
    return [
        {"arm": arm, "task": t, "network": 0, "seed": s, "test_bce": loss + 0.001 * s, "test_auroc": 1 - loss, **extra}
        for s in range(seeds)
        for t in tasks
    ]


TRANSFER = {"stl": 0.6, "mtl": 0.5, "mtl_shuffled": 0.58, "transfer_head": 0.55, "transfer_full": 0.7}


def test_transfer_verdicts_follow_the_paired_gains(tmp_path):
    for job, (n_target, n_other) in enumerate(((10, 1000), (100, 1000), (10, 100))):
        records = [r for arm, loss in TRANSFER.items() for r in rows(arm, loss)]
        records += rows("stl", 9.0, tasks=(1,))  # not the target: ignored
        config = {"data__n_target": n_target, "data__n_other": n_other, "data__target": 0}
        write(tmp_path, job, result(records, list(TRANSFER), "transfer", **config))
    section = transfer.analyse(collect(tmp_path))
    outcome = {v.criterion.name.split(": ", 1)[1]: v.outcome for v in section.verdicts}
    assert outcome["mtl vs stl, fewest target labels, most source labels"] == "holds"
    assert outcome["transfer_full vs mtl, fewest target labels, most source labels"] == "contradicted"
    assert outcome["sharing's gain is real, not regularisation"] == "holds"  # mtl - mtl_shuffled = +0.08
    measured = {v.criterion.name: v.measured for v in section.verdicts}
    assert any(m.startswith("+0.1000 [+0.1000, +0.1000] nats") for m in measured.values())
    assert "| 1000 | 10 | +0.1000 [+0.1000, +0.1000] | +0.0200 [+0.0200, +0.0200] |" in section.text


def test_a_weighting_sweep_cut_short_tests_the_pairs_it_has(tmp_path):
    # uncertainty never ran; pcgrad only at rho 0.2. Per seed: mtl 0.5 (equal) or 0.5 + 0.0001 s (pcgrad).
    for job, (w, rho) in enumerate((("equal", 0.2), ("equal", 0.8), ("pcgrad", 0.2))):
        mtl = [{**r, "test_bce": 0.5 + (0.0001 * r["seed"] if w == "pcgrad" else 0)} for r in rows("mtl", 0, 8)]
        records = mtl + rows("stl", 0.6, 8)
        write(tmp_path, job, result(records, ["mtl", "stl"], "weighting", train__weighting=w, data__relatedness=rho))
    section = weighting.analyse(collect(tmp_path))
    assert [v.criterion.name.rsplit(": ", 1)[1] for v in section.verdicts] == ["pcgrad matches equal weights, rho=0.2"]
    assert section.verdicts[0].outcome == "holds"  # a tiny, tight difference: equivalent within delta
    assert "| test log loss (nats) | 0.2 | pcgrad | -0.0003 [-0.0006, -0.0001] |" in section.text


def test_affinity_rank_correlation_uses_directed_pair_gains(tmp_path):
    z = np.array([[0.0, 3.0, 1.0], [2.0, 0.0, -1.0], [0.5, -2.0, 0.0]])  # Z[i, j]: i stepped, j helped
    groups = [[0, 1], [0, 2], [1, 2]]
    records = [{"arm": "stl", "task": k, "network": k, "seed": s, "test_bce": 1.0} for k in range(3) for s in range(3)]
    for network, (a, b) in enumerate(groups):  # gain of j with partner i equals Z[i, j] / 10
        records += [
            {"arm": "pairs", "task": j, "network": network, "seed": s, "test_bce": 1.0 - z[i, j] / 10}
            for i, j in ((a, b), (b, a))
            for s in range(3)
        ]
    payload = result(records, ["mtl", "stl", "pairs"], "affinity", data__tasks=3)
    payload |= {"affinity": {"matrix": [z.tolist()] * 3}, "arms": {"pairs": {"groups": groups}}}
    write(tmp_path, 0, payload)
    (verdict,) = affinity.analyse(collect(tmp_path)).verdicts
    assert verdict.test.mean == 1.0 and verdict.outcome == "holds"


def test_caruana_table_compares_the_widest_shared_network_with_the_best_and_mean_separate_one(tmp_path):
    for job, width in enumerate((2, 16)):
        stl = {2: 0.6, 16: 0.4}[width]
        records = rows("stl", stl, 1, tasks=(0, 1)) + rows("mtl", 0.3, 1, tasks=(0, 1))
        write(tmp_path, job, result(records, ["mtl", "stl"], "capacity", model__width=width, data__tasks=2))
    table = capacity.caruana_table(capacity.with_config(collect(tmp_path), capacity.KEYS))
    # best stl 0.4, mean 0.5, mtl at width 16 0.3: 25% below the best, 40% below the mean
    assert "| 2 | 0.6000 | 0.4000 | 0.3000 | +25.0% | +40.0% |" in table

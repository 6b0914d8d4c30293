"""The claims table: each verdict follows its stated rule from the experiments' result files."""

import json

import pytest

from promptbank.experiments.claims import (
    cross_model_claims,
    few_shot_claims,
    finished_targets,
    leave_one_out_claims,
    ppt_claims,
    to_markdown,
    zero_shot_claims,
)


def zero_shot(backbone: str, same_over: float, relative: float, other_over: float,
              other_over_learnable: float | None = None) -> dict:
    return {"spec": {"backbone": backbone}, "summary": {
        "over_majority_same_kind": same_over, "relative_same_kind": relative, "pairs_same_kind": 4,
        "over_majority_other_kind": other_over, "pairs_other_kind": 20, "learnable_tasks": ["t1", "t2"],
        "learnable_pairs_other_kind": 8,
        "learnable_over_majority_other_kind": other_over if other_over_learnable is None else other_over_learnable}}


def cell(random_steps: int, transfer_steps: int | None, sources: dict) -> dict:
    return {"random": {"steps_to_random_best": random_steps},
            "strategies": {"weighted-average": {"steps_to_random_best": transfer_steps}}, "per_source": sources}


def results(gain_ci: tuple[float, float], cells: list[dict], rho: dict) -> dict:
    low, high = gain_ci
    run = {"gain": (low + high) / 2, "gain_ci": {"low": low, "high": high, "mean": (low + high) / 2}}
    return {"spec": {"shots": 16, "steps": 30, "eval_every": 5},
            "summary": {"targets": ["rotten_tomatoes"],
                        "strategies": {"rotten_tomatoes": {"random": {"gain": 0.0}, "weighted-average": run}},
                        "spearman_with_gain": {m: {"all pairs": 0.9, "rotten_tomatoes": v} for m, v in rho.items()}},
            "cells": cells}


def test_zero_shot_verdicts_follow_their_thresholds():
    works, chance = zero_shot_claims({"a": zero_shot("a", 0.12, 0.95, 0.01)})
    assert works.holds == "yes" and chance.holds == "yes" and "+0.120 over majority" in works.ours
    works, chance = zero_shot_claims({"a": zero_shot("a", 0.12, 0.95, 0.01), "b": zero_shot("b", 0.12, 0.80, 0.09)})
    assert works.holds == "partly" and chance.holds == "partly"  # b reaches only 80% of native, and stays above chance
    works, _ = zero_shot_claims({"a": zero_shot("a", 0.03, 0.99, 0.0)})
    assert works.holds == "no"
    # at chance over all pairs, but well above it on the tasks some prompt learns: not "falls to chance"
    _, chance = zero_shot_claims({"a": zero_shot("a", 0.03, 0.99, 0.02, other_over_learnable=0.09)})
    assert chance.holds == "partly" and "+0.090 on the 2 learnable tasks (8 pairs)" in chance.ours


def test_few_shot_verdicts_use_intervals_steps_and_within_target_correlations():
    source = {"best_dev": 0.8, "steps_to_random_best": 5}
    good = results((0.01, 0.05), [cell(20, 5, {"x": source}), cell(20, 10, {"x": source})],
                   {"on": 0.6, "cosine": 0.1, "zero-shot": 0.3})
    beats, small, faster, on, delta = few_shot_claims([good])
    assert delta.holds == "not tested"  # no task-vector similarities in these results
    assert beats.holds == "yes" and "CI above 0 in 1/1" in beats.ours
    assert small.holds == "not tested"
    assert faster.holds == "yes" and "weighted-average: 7.5 steps vs random 20.0, 100% of runs" in faster.ours
    assert on.holds == "yes" and "on +0.60" in on.ours
    # never reaching random's best counts as one evaluation past the budget (35), and fails the 80% rule
    bad = results((-0.06, -0.01), [cell(10, None, {}), cell(10, 5, {})], {"on": 0.1, "cosine": 0.4})
    beats, _, faster, on, _ = few_shot_claims([bad])
    assert beats.holds == "no" and "below 0 in 1/1" in beats.ours
    assert faster.holds == "no" and "20.0 steps vs random 10.0, 50% of runs" in faster.ours
    assert on.holds == "no"
    *_, on, _ = few_shot_claims([results((0.0, 0.01), [cell(10, 5, {})], {"on": 0.04, "cosine": -0.2})])
    assert on.holds == "partly"  # ahead of the embedding metrics, but a correlation too weak to predict anything
    table = to_markdown([beats, on])
    assert table.count("\n") == 4 and table.startswith("| claim | paper | ours | holds |")


@pytest.mark.parametrize("rho, holds", [
    ({"cosine": 0.0, "cosine (delta)": 0.4, "euclidean": 0.1, "euclidean (delta)": 0.1}, "yes"),
    ({"cosine": 0.0, "cosine (delta)": 0.2, "euclidean": 0.1, "euclidean (delta)": 0.1}, "partly"),
    ({"cosine": 0.3, "cosine (delta)": 0.35, "euclidean": 0.1, "euclidean (delta)": 0.1}, "no")])
def test_task_vector_similarity_must_beat_the_best_prompt_metric_clearly(rho, holds):
    *_, delta = few_shot_claims([results((0.0, 0.01), [cell(10, 5, {})], rho)])
    assert delta.holds == holds and "cosine " in delta.ours and " → " in delta.ours


def test_claims_cli_prints_and_writes_the_table_and_refuses_a_wrong_folder(cli, tmp_path):
    (tmp_path / "zs").mkdir()
    (tmp_path / "zs" / "zero_shot.json").write_text(json.dumps(zero_shot("smollm2-135m", 0.1, 0.95, 0.0)))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "results.json").write_text(json.dumps(
        results((0.01, 0.05), [cell(20, 5, {})], {"on": 0.6, "cosine": 0.1})))
    code, out, err = cli("experiment", "claims", "--zero-shot", tmp_path / "zs", "--matrix", tmp_path / "m",
                         "--out", tmp_path / "claims.md")
    assert code == 0, err
    assert "Same-category zero-shot transfer" in out and (tmp_path / "claims.md").read_text().count("| yes |") >= 3
    code, out, err = cli("experiment", "claims", "--zero-shot", tmp_path / "m", "--matrix", tmp_path / "m")
    assert code == 2 and "holds no zero_shot.json" in err and "Traceback" not in err


def ppt_results(gain_ci: tuple[float, float], std: float, unified_rows: list[str], format_rows: list[str]) -> dict:
    low, high = gain_ci
    summary = {"random": {"gain": 0.0, "test_accuracy_std": 0.05},
               "pretrained": {"gain": (low + high) / 2, "gain_ci": {"low": low, "high": high}, "test_accuracy_std": std}}
    cells = [{"target": "social_iqa", "strategies": {"pretrained": {"test_correct": f},
                                                     "pretrained-unified": {"test_correct": u}}}
             for u, f in zip(unified_rows, format_rows)]
    return {"spec": {"shots": 32}, "summary": {"targets": ["social_iqa"], "strategies": {"social_iqa": summary}},
            "cells": cells}


def test_ppt_verdicts_follow_intervals_spreads_and_the_paired_difference():
    same = ["1100110011"] * 5
    raises, spread, unified = ppt_claims([ppt_results((0.01, 0.04), 0.01, same, same)])
    assert raises.holds == "yes" and "CI above 0 in 1/1" in raises.ours
    assert spread.holds == "yes" and "0.010 vs random 0.050" in spread.ours
    assert unified.holds == "yes" and "+0.000" in unified.ours  # identical runs: a difference of exactly 0
    raises, spread, unified = ppt_claims([ppt_results((-0.05, -0.01), 0.09, ["1111111111"] * 5, ["0000000000"] * 5)])
    assert raises.holds == "no" and spread.holds == "no"
    assert unified.holds == "no" and "+1.000" in unified.ours  # unified right everywhere format-specific was wrong
    assert ppt_claims([])[0].holds == "not tested"


def test_cells_of_one_target_and_shots_at_two_step_budgets_keep_apart():
    same = ["1100110011"] * 5
    short, long = ppt_results((0.01, 0.04), 0.01, same, same), ppt_results((-0.05, -0.01), 0.09, same, same)
    short["spec"]["steps"], long["spec"]["train"] = 30, {"steps": 200}  # an older spec, a newer one
    raises, _, _ = ppt_claims([short, long])
    assert "social_iqa 32-shot, 30 steps: +0.025" in raises.ours and "social_iqa 32-shot, 200 steps: -0.030" in raises.ours


def test_cells_of_one_target_on_two_backbones_keep_apart():
    same = ["1100110011"] * 5
    smol, gemma = ppt_results((0.01, 0.04), 0.01, same, same), ppt_results((-0.05, -0.01), 0.09, same, same)
    smol["spec"]["backbone"], gemma["spec"]["backbone"] = "smollm2-135m", "gemma3-270m"
    raises, _, _ = ppt_claims([smol, gemma])
    assert "social_iqa 32-shot: +0.025" in raises.ours and "social_iqa 32-shot on gemma3-270m: -0.030" in raises.ours


def test_a_target_short_of_its_folders_seeds_is_left_out_of_the_verdicts():
    same = ["1100110011"] * 5
    results = ppt_results((0.01, 0.04), 0.01, same, same)
    results["spec"]["seeds"] = [0, 1, 2, 3, 4]
    results["summary"]["targets"].append("rte")
    results["summary"]["strategies"]["rte"] = ppt_results((-0.09, -0.05), 0.2, same, same)["summary"]["strategies"][
        "social_iqa"]
    results["cells"].append({"target": "rte", "strategies": {"pretrained": {"test_correct": "0"}}})
    raises, _, _ = ppt_claims([finished_targets(results)])
    assert "CI above 0 in 1/1" in raises.ours and "rte" not in raises.ours
    raises, _, _ = ppt_claims([results])  # read whole, the one-seed target would turn the verdict
    assert raises.holds == "partly" and "rte" in raises.ours
    assert finished_targets(ppt_results((0.01, 0.04), 0.01, same, same))["summary"]["targets"] == ["social_iqa"]


def test_claims_cli_takes_the_ppt_experiment_alone_and_refuses_no_folder(cli, tmp_path):
    (tmp_path / "ppt").mkdir()
    (tmp_path / "ppt" / "results.json").write_text(json.dumps(ppt_results((0.01, 0.04), 0.01, ["1"] * 5, ["1"] * 5)))
    code, out, err = cli("experiment", "claims", "--ppt", tmp_path / "ppt")
    assert code == 0, err
    assert "PPT init (format-matched) raises" in out and "Same-category" not in out
    code, out, err = cli("experiment", "claims")
    assert code == 2 and "at least one results folder" in err


def cross_model(projected: float, native: float, distance_zero_shot: float, gain_ci: tuple[float, float]) -> dict:
    """One direction's results.json: a task and a distance projector, one training task and one held-out task."""
    low, high = gain_ci
    run = {"zero_shot": distance_zero_shot, "gain": (low + high) / 2, "gain_ci": {"low": low, "high": high}}
    return {"source": "a", "target": "b", "projectors": {"task": {"method": "task"}, "distance": {"method": "distance"}},
            "summary": {"tasks": {"held": {"random_prompt": 0.6, "template": 0.7, "projected": {
                "task": {**run, "zero_shot": 0.7}, "distance": run}}},
                "training_tasks": {"seen": {"projected": {"task": projected, "distance": 0.5}, "native": native,
                                            "majority": 0.5, "template": 0.6}},
                "cosine_between_tasks": {"source": 0.7, "task": 0.999, "distance": 0.8}}}


def test_cross_model_verdicts_follow_their_thresholds(cli, tmp_path):
    carries, poorly, init = cross_model_claims([cross_model(0.85, 0.9, 0.72, (0.01, 0.05))])
    assert carries.holds == "yes" and "94% of native, +0.350 over majority" in carries.ours
    assert "held-out tasks: cosine 0.999 (their sources 0.700)" in carries.ours
    assert poorly.holds == "yes" and "+0.020 over the better" in poorly.ours
    assert init.holds == "yes" and "CI above 0 in 2/2" in init.ours  # both projectors' runs have that interval
    carries, poorly, init = cross_model_claims([cross_model(0.85, 0.9, 0.72, (0.01, 0.05)),
                                                cross_model(0.6, 0.9, 0.8, (-0.05, -0.01))])
    assert (carries.holds, poorly.holds, init.holds) == ("partly", "partly", "partly")
    assert "below 0 in 2" in init.ours.split(";")[1]
    no_seen = cross_model(0.85, 0.9, 0.72, (0.01, 0.05))
    del no_seen["summary"]["training_tasks"]  # written before the training-task columns existed
    assert cross_model_claims([no_seen])[0].holds == "not tested"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text(json.dumps(cross_model(0.85, 0.9, 0.72, (0.01, 0.05))))
    code, out, err = cli("experiment", "claims", "--cross-model", tmp_path / "x")
    assert code == 0 and "task-tuned projector" in out and "Same-category" not in out, err


def test_results_of_either_age_give_the_same_verdicts():
    """Files written now say category and keep the training settings in a train block; files written before say
    kind and keep them at the top level (the committed reports/)."""
    old = zero_shot("a", 0.12, 0.95, 0.01, other_over_learnable=0.09)
    new = {"spec": old["spec"], "summary": {k.replace("_kind", "_category"): v for k, v in old["summary"].items()}}
    assert zero_shot_claims({"a": new}) == zero_shot_claims({"a": old})
    cells = [cell(20, None, {}), cell(20, 5, {})]
    flat = results((0.01, 0.05), cells, {"on": 0.6, "cosine": 0.1})
    block = {**flat, "spec": {"shots": 16, "train": {"steps": 30, "eval_every": 5}}}
    assert few_shot_claims([block]) == few_shot_claims([flat])
    assert "20.0 steps vs random 20.0, 50% of runs" in few_shot_claims([block])[2].ours  # never counts as 35


def _run(correct: str, best_dev: float = 0.5) -> dict:
    return {"test_accuracy": correct.count("1") / len(correct), "test_correct": correct, "best_dev": best_dev}


def mixture_results(mixture: str, fixed_dev: dict[str, float], shots: int | None = 32,
                    steps: dict[str, float] | None = None) -> dict:
    """Two seeds of one target: random gets half the 40 test examples right, the mixture `mixture` of them."""
    random, fixed = "1" * 20 + "0" * 20, "1" * 22 + "0" * 18
    cells = [{"target": "t", "seed": s, "random": _run(random),
              "strategies": {"learned-mixture": _run(mixture), **{n: _run(fixed, dev) for n, dev in fixed_dev.items()}}}
             for s in (0, 1)]
    summary = {name: {"steps_to_95_random_final": value, "dev_auc": 0.8} for name, value in (steps or {}).items()}
    return {"spec": {"shots": shots}, "cells": cells, "summary": {"targets": ["t"], "strategies": {"t": summary}}}


def test_the_learned_mixture_is_judged_against_random_and_the_fixed_init_best_on_dev():
    from promptbank.experiments.claims import learned_mixture_claims
    (claim,) = learned_mixture_claims([mixture_results("1" * 36 + "0" * 4, {"vocab": 0.9, "best-of-k": 0.4})])
    assert claim.holds == "yes" and "vs vocab (best fixed on dev)" in claim.ours and "t 32-shot" in claim.ours
    (claim,) = learned_mixture_claims([mixture_results("1" * 10 + "0" * 30, {"vocab": 0.9})])
    assert claim.holds == "no"
    full = mixture_results("1" * 36 + "0" * 4, {"vocab": 0.9}, shots=None,
                           steps={"random": 200, "vocab": 75, "best-of-k": 150})
    mixture, speed = learned_mixture_claims([full])
    assert "t full data" in mixture.ours and speed.holds == "partly"  # vocab in half the steps, best-of-k not
    assert "t full data, vocab: 75 steps vs random 200" in speed.ours


def test_a_full_data_target_that_starts_at_its_final_score_cannot_test_convergence():
    from promptbank.experiments.claims import learned_mixture_claims
    full = mixture_results("1" * 36 + "0" * 4, {"vocab": 0.9}, shots=None, steps={"random": 0, "vocab": 0})
    _, speed = learned_mixture_claims([full])
    assert speed.holds == "not tested" and "starts at 95% of its final dev score" in speed.ours


def test_a_run_that_never_reaches_random_counts_one_evaluation_past_its_own_budget():
    short = results((0.01, 0.05), [cell(10, None, {})], {"on": 0.1})  # 30 steps, dev every 5: counted as 35
    long = results((0.01, 0.05), [cell(10, 20, {})], {"on": 0.1})
    long["spec"] |= {"steps": 500, "eval_every": 25}
    speed = next(c for c in few_shot_claims([short, long]) if c.claim.startswith("Transfer init converges"))
    assert "weighted-average: 27.5 steps vs random 10.0" in speed.ours  # (35 + 20) / 2, not (525 + 20) / 2


def loo_results(output_cosine: float, own_best: list[bool], cis: list[tuple[float, float] | None]) -> dict:
    folds = {f"t{i}": {"own_beats_every_other": best, "own_beats_others_mean": True,
                       "few_shot_gain": None if ci is None else sum(ci) / 2, "seeds": 0 if ci is None else 2,
                       "few_shot_gain_ci": None if ci is None else {"low": ci[0], "high": ci[1]}}
             for i, (best, ci) in enumerate(zip(own_best, cis))}
    return {"spec": {"source": "a", "target": "b", "method": "task", "config": {"architecture": "whole"}},
            "summary": {"folds": folds, "output_cosine": output_cosine, "input_cosine": 0.03,
                        "own_beats_others_mean": len(folds), "own_beats_every_other": sum(own_best),
                        "own_minus_random": 0.012,
                        "gain_ci_above_zero": sum(bool(ci and ci[0] > 0) for ci in cis)}}


def test_leave_one_out_verdicts_need_distinct_outputs_own_wins_and_intervals(cli, tmp_path):
    carries, init = leave_one_out_claims([loo_results(0.6, [True, True, False], [(0.01, 0.05)] * 3)])
    assert (carries.holds, init.holds) == ("yes", "yes")
    assert "output cosine 0.600 (inputs 0.030)" in carries.ours and "above every other in 2/3" in carries.ours
    assert "above a random prompt by +0.012 on average" in carries.ours and "(2 seeds a fold)" in init.ours
    alike = loo_results(0.97, [True, True, False], [(0.01, 0.05), (-0.05, -0.01), None])
    carries, init = leave_one_out_claims([alike])  # one prompt for every task, however it scores
    assert (carries.holds, init.holds) == ("no", "no") and "below 0 in 1" in init.ours
    carries, _ = leave_one_out_claims([alike, loo_results(0.6, [True, True], [None, None])])
    assert carries.holds == "partly"
    assert leave_one_out_claims([loo_results(0.6, [True], [None])])[1].holds == "not tested"
    ridge = loo_results(0.6, [True], [None])
    ridge["spec"] |= {"method": "ridge", "config": {"architecture": "linear", "ridge": 0.01}}
    assert "a → b (ridge 0.01, linear, 1 folds)" in leave_one_out_claims([ridge])[0].ours  # penalties keep apart
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text(json.dumps(loo_results(0.6, [True, False, False], [None] * 3)))
    code, out, err = cli("experiment", "claims", "--leave-one-out", tmp_path / "x")
    assert code == 0 and "never saw" in out and "task-tuned projector" not in out, err
    code, _, err = cli("experiment", "claims", "--leave-one-out", tmp_path)
    assert code == 2 and "Traceback" not in err

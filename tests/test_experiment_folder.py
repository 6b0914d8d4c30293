"""The resumable experiment folder: the same settings continue (spec.json files of any age), other settings are
refused in one sentence, and nothing is written before a command is accepted."""

import json
from pathlib import Path

import pytest

from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments.cross_model import CrossModelSpec
from promptbank.experiments.folder import ExperimentFolder, differences, upgrade
from promptbank.experiments.matrix import MatrixSpec
from promptbank.experiments.sweep import GRIDS, SweepSpec
from promptbank.experiments.zero_shot import ZeroShotSpec
from promptbank.tuning.config import TrainConfig

REPORTS = Path(__file__).resolve().parent.parent / "reports"
MATRIX_GROWS = ("targets", "seeds")
# A transfer experiment's spec.json as it was written before the train settings became one block.
OLD_MATRIX = {"sources": ["bbc_news", "food_reviews"], "targets": ["rotten_tomatoes"], "seeds": [0, 1],
              "backbone": "smollm2-135m", "shots": 16, "steps": 30, "eval_every": 5, "lr": 0.01, "prompt_length": 20,
              "strategies": ["weighted-average"], "k": 3, "by": "zero-shot", "metrics": ["cosine"], "per_source": True,
              "test_size": 1000, "dtype": "float32"}  # and no per_source_seeds: it came later


def matrix(**changes) -> MatrixSpec:
    settings = {"sources": ("bbc_news", "food_reviews"), "targets": ("rotten_tomatoes",), "seeds": (0, 1),
                "strategies": ("weighted-average",), "metrics": ("cosine",), "test_size": 1000, "dtype": "float32",
                "train": TrainConfig(steps=30, eval_every=5, patience=0)}
    return MatrixSpec(**settings | changes)


def folder_with(tmp_path: Path, spec_json: dict) -> Path:
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "spec.json").write_text(json.dumps(spec_json))
    return tmp_path / "exp"


def test_an_old_flat_spec_reads_as_the_train_block_those_runs_used(tmp_path):
    assert upgrade(OLD_MATRIX)["train"] == {
        "steps": 30, "batch_size": 8, "lr": 0.01, "weight_decay": 1e-5, "warmup": 0.06, "max_grad_norm": 1.0,
        "eval_every": 5, "patience": 0, "seed": 0, "eval_batch_size": 32, "schedule": "linear"}
    assert "steps" not in upgrade(OLD_MATRIX) and upgrade(upgrade(OLD_MATRIX)) == upgrade(OLD_MATRIX)
    folder = folder_with(tmp_path, OLD_MATRIX)
    ExperimentFolder(folder, matrix(), may_differ=MATRIX_GROWS)  # the same settings: accepted
    ExperimentFolder(folder, matrix(targets=("social_iqa",), seeds=(0, 1, 2)), may_differ=MATRIX_GROWS)
    assert json.loads((folder / "spec.json").read_text()) == OLD_MATRIX  # checking writes nothing


def test_other_settings_are_refused_naming_each_difference(tmp_path):
    folder = folder_with(tmp_path, OLD_MATRIX)
    with pytest.raises(BadArgumentError, match=r"holds an experiment with other settings \(test_size 1000 there, 200 "
                                               r"here; lr 0\.01 there, 0\.03 here\); pass the same settings"):
        ExperimentFolder(folder, matrix(train=TrainConfig(steps=30, eval_every=5, lr=0.03, patience=0),
                                        test_size=200), may_differ=MATRIX_GROWS)
    with pytest.raises(BadArgumentError, match=r"\(per_source_seeds None there, 2 here\)"):  # a key added since
        ExperimentFolder(folder, matrix(per_source_seeds=2), may_differ=MATRIX_GROWS)
    with pytest.raises(BadArgumentError, match=r"\(warmup 0\.06 there, 0\.2 here\)"):  # an old default, recorded
        ExperimentFolder(folder, matrix(train=TrainConfig(steps=30, eval_every=5, warmup=0.2, patience=0)),
                         may_differ=MATRIX_GROWS)
    assert [p.name for p in folder.iterdir()] == ["spec.json"]
    (folder / "spec.json").write_text("not json")
    with pytest.raises(BadArgumentError, match="is not a spec.json promptbank wrote"):
        ExperimentFolder(folder, matrix())


def test_units_are_saved_atomically_after_the_spec_and_read_back(tmp_path):
    spec = ZeroShotSpec("smollm2-135m", ("rotten_tomatoes",), dtype="float32")
    folder = ExperimentFolder(tmp_path / "zs", spec, "a zero-shot matrix", may_differ=("tasks",))
    assert folder.load("columns/rotten_tomatoes") is None and not (tmp_path / "zs").exists()
    with pytest.raises(DataError, match="holds no finished zero-shot columns yet"):
        folder.require(folder.units("columns"), "zero-shot columns")
    assert folder.save("columns/rotten_tomatoes", {"task": "rotten_tomatoes", "scores": (1, 2)}) == {
        "task": "rotten_tomatoes", "scores": [1, 2]}  # as JSON reads it back
    assert json.loads((tmp_path / "zs" / "spec.json").read_text())["dtype"] == "float32"
    assert folder.units("columns") == [{"task": "rotten_tomatoes", "scores": [1, 2]}]
    assert sorted(p.name for p in (tmp_path / "zs").rglob("*")) == ["columns", "rotten_tomatoes.json", "spec.json"]
    grown = ZeroShotSpec("smollm2-135m", ("rotten_tomatoes", "bbc_news"), dtype="float32")
    ExperimentFolder(tmp_path / "zs", grown, may_differ=("tasks",))
    with pytest.raises(BadArgumentError, match=r"a zero-shot matrix with other settings \(tasks"):
        ExperimentFolder(tmp_path / "zs", grown, "a zero-shot matrix")


def test_a_sweeps_old_spec_leaves_lr_and_warmup_to_its_cells(tmp_path):
    old = {"backbone": "smollm2-135m", "tasks": ["bbc_news"], "lrs": [0.01], "warmups": [0.06], "prompt_lengths": [20],
           "inits": ["random"], "seeds": [0, 1], "shots": 16, "steps": 30, "eval_every": 10, "dev_size": 200,
           "bank": None, "dtype": "float32"}
    spec = SweepSpec("smollm2-135m", ("bbc_news", "fever"), (0.01, 0.1), seeds=(0, 1), dtype="float32",
                     train=TrainConfig(steps=30, eval_every=10, patience=0))
    assert differences(old, spec, GRIDS, {"lr": None, "warmup": None}) == []
    # without the sweep's mapping, the warmup every old matrix run used would look changed
    assert differences(old, spec, GRIDS) == ["warmup 0.06 there, None here"]


# Each committed experiment folder with the spec its report script builds today (reports/*.sh, reports/README.md):
# rerunning the script must continue the folder, not refuse it.
FEW_SHOT = {"targets": ("rotten_tomatoes", "presuppositions_nli", "intent_recognition", "social_iqa"),
            "seeds": tuple(range(5)), "backbone": "smollm2-135m", "train": TrainConfig(steps=30, eval_every=5, patience=0),
            "test_size": 1000, "dtype": "bfloat16"}
TRANSFER_SOURCES = ("bbc_news", "epistemic_reasoning", "food_reviews", "movie_reviews", "movie_sentences",
                    "multiemo_sentences", "sports_understanding", "tweet_sentiment", "wiki_hedges", "wikihow_goals")
RECIPE_TASKS = ("movie_sentences", "bbc_news", "strategyqa")
HELD_OUT = ("movie_sentences", "food_reviews", "movie_reviews", "multiemo_sentences")


def committed() -> list[tuple[str, object, tuple, dict | None]]:
    def cross(source, target):
        folder = f"cross-model/{source}-to-{target}"
        projectors = tuple(f"reports/cross-model/projectors/{source}-to-{target}-{m}" for m in ("task", "distance"))
        # run_cross_model records the target's recipe in place of the lr and warmup left open
        spec = CrossModelSpec(projectors, HELD_OUT, seeds=tuple(range(5)), dtype="bfloat16",
                              train=TrainConfig(steps=30, eval_every=5, patience=0).for_backbone(target))
        return folder, spec, ("seeds",), None

    def sweep(backbone, folder, **grid):
        train = TrainConfig(steps=30, eval_every=10, patience=0)
        return (f"recipe/{folder}", SweepSpec(backbone, RECIPE_TASKS, seeds=(0, 1), dtype="bfloat16", train=train,
                                              **grid), GRIDS, {"lr": None, "warmup": None})

    zero_shot = [(f"transfer/{b}-zero-shot", ZeroShotSpec(b, tuple(json.loads(
        (REPORTS / f"transfer/{b}-zero-shot/spec.json").read_text())["tasks"]), dtype="bfloat16"), ("tasks",), None)
        for b in ("smollm2-135m", "gemma3-270m")]
    return [
        *[(f"transfer/smollm2-135m-{shots}-shot", MatrixSpec(
            sources=TRANSFER_SOURCES, shots=shots, strategies=("vocab", "weighted-average", "best-of-k", "mixture"),
            per_source_seeds=2, **FEW_SHOT), MATRIX_GROWS, None) for shots in (16, 32)],
        *[(f"ppt/smollm2-135m-{shots}-shot", MatrixSpec(
            sources=(), shots=shots, strategies=("vocab", "pretrained", "pretrained-unified"), per_source=False,
            **FEW_SHOT), MATRIX_GROWS, None) for shots in (16, 32)],
        ("smollm2-135m-transfer", MatrixSpec(
            sources=("movie_sentences", "tweet_sentiment", "food_reviews", "vitaminc", "fever", "strategyqa",
                     "winowhy", "bbc_news"), targets=("rotten_tomatoes", "presuppositions_nli", "intent_recognition"),
            seeds=(0, 1, 2), shots=16, train=TrainConfig(steps=30, eval_every=10, lr=0.03, patience=0),
            test_size=100, dtype="float32"), MATRIX_GROWS, None),
        *zero_shot,
        sweep("smollm2-135m", "smollm2-135m-lr", lrs=(0.003, 0.01, 0.03, 0.1)),
        sweep("gemma3-270m", "gemma3-270m-lr", lrs=(0.003, 0.01, 0.03, 0.1, 0.3)),
        # stage 2's last command; its earlier ones differ only in the grids
        *[sweep(b, f"{b}-stage2", lrs=(0.01,), prompt_lengths=(10, 50), bank=f"banks/{b}-full")
          for b in ("smollm2-135m", "gemma3-270m")],
        cross("gemma3-270m", "smollm2-135m"), cross("smollm2-135m", "gemma3-270m"),
        cross("minilm-l6", "smollm2-135m"),
    ]


@pytest.mark.parametrize("folder,spec,grows,legacy", committed(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_committed_folder_is_continued_by_its_report_script(folder, spec, grows, legacy):
    recorded = json.loads((REPORTS / folder / "spec.json").read_text())
    assert differences(recorded, spec, grows, legacy) == []

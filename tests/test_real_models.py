"""Slow tests on real pretrained weights: prompt tuning must beat the majority class on real test data."""

import pytest

from promptbank.tuning.config import TrainConfig
from promptbank.tuning.run import RunSpec, run_training

pytestmark = pytest.mark.slow


def test_smollm2_prompt_beats_majority_on_movie_sentences(tmp_path):
    spec = RunSpec(task="movie_sentences", backbone="smollm2-135m", shots=16, prompt_length=20, init="random",
                   test_size=300, train=TrainConfig(steps=40, eval_every=10, patience=0, seed=0))
    result = run_training(spec, tmp_path / "p", progress=False)
    assert result.test.n == 300
    assert result.test.accuracy > result.majority + 0.1, (result.test, result.majority)
    assert (tmp_path / "p" / "prompt.safetensors").exists()


def test_minilm_encoder_prompt_beats_majority_on_rotten_tomatoes(tmp_path):
    spec = RunSpec(task="rotten_tomatoes", backbone="minilm-l6", shots=32, prompt_length=10, init="random",
                   test_size=300, train=TrainConfig(steps=60, eval_every=20, patience=0, seed=0, lr=0.1))
    result = run_training(spec, tmp_path / "p", progress=False)
    assert result.test.accuracy > result.majority + 0.1, (result.test, result.majority)


def test_gemma3_prompt_beats_majority_on_movie_sentences(tmp_path):
    from promptbank.backbones import load_backbone
    from promptbank.tuning.config import recipe_for
    from promptbank.tuning.init import ordinary_tokens
    backbone = load_backbone("gemma3-270m")
    pool = backbone.tokenizer.convert_ids_to_tokens(ordinary_tokens(backbone).tolist())
    assert not [t for t in pool if t.startswith("<unused") or t.startswith("<start_of_image")]
    recipe = recipe_for("gemma3-270m")
    spec = RunSpec(task="movie_sentences", backbone="gemma3-270m", shots=16, prompt_length=20, init="random",
                   test_size=300, train=TrainConfig(steps=40, eval_every=10, patience=0, seed=0, lr=recipe.lr,
                                                    warmup=recipe.warmup))
    result = run_training(spec, tmp_path / "p", progress=False)
    assert result.test.accuracy > result.majority + 0.1, (result.test, result.majority)

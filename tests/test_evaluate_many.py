"""Many prompts scored in shared passes predict what each prompt evaluated alone predicts, for every family."""

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import load_backbone
from promptbank.scoring.evaluate import (
    accuracy_of_many,
    evaluate,
    evaluate_many,
    predict_many,
)


@pytest.mark.parametrize("family", ["causal", "masked", "seq2seq", "encoder"])
def test_many_prompts_at_once_predict_as_each_prompt_alone(tiny_dirs, toy_task, toy_choice_task, family):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    torch.manual_seed(0)
    prompts = torch.randn(3, 4, backbone.hidden_size) * 0.5
    for task in (toy_task, toy_choice_task):
        items = scoring.encode(backbone, task, task.examples[:13])
        alone = [evaluate(backbone, prompt, items) for prompt in prompts]
        many = evaluate_many(backbone, prompts, items, batch_rows=8)  # 2 examples per pass: several passes
        assert [e.predictions for e in many] == [e.predictions for e in alone]
        assert [e.accuracy for e in many] == [e.accuracy for e in alone]
        assert [e.macro_f1 for e in many] == [e.macro_f1 for e in alone]
        assert predict_many(backbone, prompts, items, prompts_per_pass=2).tolist() == [
            list(e.predictions) for e in alone]  # blocks of prompts
        assert accuracy_of_many(backbone, prompts, items).tolist() == pytest.approx([e.accuracy for e in alone])

import math
from dataclasses import replace

import pytest
import torch

from promptbank import scoring
from promptbank.backbones import dtype_name, load_backbone
from promptbank.errors import BadArgumentError
from promptbank.scoring import causal
from promptbank.tuning.init import init_prompt

FAMILIES = ["causal", "masked", "encoder", "seq2seq"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_scores_all_candidates(tiny_dirs, toy_task, toy_choice_task, family):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    assert backbone.family == family
    prompt = init_prompt(backbone, 4, "vocab").tensor
    scores = scoring.score(backbone, prompt, scoring.encode(backbone, toy_task, toy_task.examples[:5]))
    assert scores.shape == (5, 2) and torch.isfinite(scores).all()
    items = scoring.encode(backbone, toy_choice_task, toy_choice_task.examples[:6])
    scores = scoring.score(backbone, prompt, items)
    assert scores.shape == (6, 3)
    for item, row in zip(items, scores):  # examples with two choices have -inf in the third column
        assert torch.isfinite(row[:item.n_candidates]).all()
        assert all(math.isinf(v) and v < 0 for v in row[item.n_candidates:].tolist())


def _reference_causal(backbone, prompt, text, candidate):
    """Summed log-likelihood of the candidate from a plain full forward pass over [prompt; input; candidate]."""
    tokenizer = backbone.tokenizer
    ids = tokenizer(text)["input_ids"]
    answer = tokenizer(" " + candidate, add_special_tokens=False)["input_ids"]
    embeds = torch.cat([prompt.to(backbone.device), backbone.embed(torch.tensor(ids + answer, device=backbone.device))])[None]
    logp = backbone.model(inputs_embeds=embeds).logits[0].log_softmax(-1)
    start = prompt.shape[0] + len(ids) - 1
    return sum(logp[start + j, token] for j, token in enumerate(answer))


@pytest.mark.parametrize("model", ["causal", "gemma"])
def test_causal_scores_equal_full_sequence_likelihood(tiny_dirs, toy_choice_task, model):
    backbone = load_backbone(str(tiny_dirs[model]), "float32")
    prompt = init_prompt(backbone, 3, "random", seed=1).tensor
    examples = toy_choice_task.examples[:4]
    with torch.no_grad():
        scores = scoring.score(backbone, prompt, scoring.encode(backbone, toy_choice_task, examples))
        for i, ex in enumerate(examples):
            for c, candidate in enumerate(toy_choice_task.candidates(ex)):
                expected = _reference_causal(backbone, prompt, toy_choice_task.render(ex), candidate)
                assert scores[i, c].item() == pytest.approx(expected.item(), abs=1e-4)


def test_reading_each_input_once_changes_no_score_or_gradient(tiny_dirs, toy_choice_task, monkeypatch):
    """Candidates read after their example's cached input: inputs of different lengths (padding between the input
    and the candidate tokens), and a Gemma whose window is wider than the rows (sliding-window masks read on)."""
    examples = [replace(ex, text=text) for ex, text in
                zip(toy_choice_task.examples[:4], ["why?", "question 1 with a much longer input than the others?",
                                                    "q two", "a fourth question, of middling length?"])]
    mask_of, read_on = causal._suffix_mask, []  # read_on: backbones whose candidates were read after their input
    monkeypatch.setattr(causal, "_suffix_mask", lambda *a: read_on.append(a[0]) or mask_of(*a))
    for directory in (tiny_dirs["causal"], tiny_dirs["gemma_wide"]):
        backbone = load_backbone(str(directory), "float32")
        prompt = init_prompt(backbone, 3, "random", seed=1).tensor.requires_grad_()
        scores = scoring.score(backbone, prompt, scoring.encode(backbone, toy_choice_task, examples))
        expected = []
        for i, ex in enumerate(examples):
            for c, candidate in enumerate(toy_choice_task.candidates(ex)):
                expected.append(_reference_causal(backbone, prompt, toy_choice_task.render(ex), candidate))
                assert scores[i, c].item() == pytest.approx(expected[-1].item(), abs=1e-4)
        (grad,) = torch.autograd.grad(scores[torch.isfinite(scores)].sum(), prompt)
        (reference,) = torch.autograd.grad(sum(expected), prompt)
        torch.testing.assert_close(grad, reference, atol=1e-4, rtol=1e-3)
        assert read_on[-1] is backbone  # not the one-pass fallback


def test_single_token_candidates_share_one_row(tiny_dirs, toy_task):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    item = scoring.encode(backbone, toy_task, toy_task.examples[:1])[0]
    # "bad" is one token, "wonderful day" two: two rows, and the one-token candidate reads the bare input
    assert len(item.rows) == 2 and len(item.targets) == 3


@pytest.mark.parametrize("family", FAMILIES)
def test_one_prompt_per_row_equals_separate_passes(tiny_dirs, toy_task, family):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples[:3])
    prompts = [init_prompt(backbone, 4, "random", seed=s).tensor for s in range(3)]
    with torch.no_grad():
        together = scoring.score(backbone, torch.stack(prompts), items)
        for i, prompt in enumerate(prompts):
            alone = scoring.score(backbone, prompt, [items[i]])
            torch.testing.assert_close(together[i], alone[0], atol=1e-4, rtol=1e-4)


def test_auto_and_the_dtype_it_means_share_one_loaded_backbone(tiny_dirs):
    name = str(tiny_dirs["causal"])
    assert load_backbone(name, "auto") is load_backbone(name, dtype_name("auto"))
    assert load_backbone(name, "float32").model.dtype == torch.float32


@pytest.mark.parametrize("family", FAMILIES)
def test_an_empty_prompt_scores_the_template_alone(tiny_dirs, toy_task, family):
    backbone = load_backbone(str(tiny_dirs[family]), "float32")
    items = scoring.encode(backbone, toy_task, toy_task.examples[:4])
    with torch.no_grad():
        scores = scoring.score(backbone, torch.zeros(0, backbone.hidden_size), items)
    assert scores.shape == (4, 2) and torch.isfinite(scores).all()
    if family == "causal":
        text, candidate = toy_task.render(toy_task.examples[0]), toy_task.candidates(toy_task.examples[0])[1]
        with torch.no_grad():
            expected = _reference_causal(backbone, torch.zeros(0, backbone.hidden_size), text, candidate)
        assert scores[0, 1].item() == pytest.approx(expected.item(), abs=1e-4)


@pytest.mark.parametrize("model", ["causal", "causal48", "gemma", "gemma_wide"])
def test_the_one_pass_and_shared_cache_paths_give_the_same_scores_and_gradients(tiny_dirs, toy_task, toy_choice_task,
                                                                                 model, monkeypatch):
    """Multi-token candidates behind inputs of different lengths, several prompts in one batch; Gemma with a window
    narrower than the rows (the shared path's fallback) and wider than them (its cache read on)."""
    backbone = load_backbone(str(tiny_dirs[model]), "float32")
    examples = [replace(ex, text=text) for ex, text in zip(toy_choice_task.examples[:4], [
        "why?", "question 1 with a much longer input than the others?", "q two", "a fourth, of middling length?"])]
    cases = [(toy_choice_task, examples), (toy_task, toy_task.examples[:5])]
    results = {}
    for path in "one-pass", "shared-cache":
        monkeypatch.setenv("PROMPTBANK_SCORING_PATH", path)
        assert causal.scoring_path(backbone) == path
        prompts = torch.stack([init_prompt(backbone, 3, "random", seed=s).tensor for s in range(2)]).requires_grad_()
        scores = [scoring.score(backbone, prompts, scoring.encode(backbone, task, chosen),
                                torch.arange(len(chosen)) % 2) for task, chosen in cases]
        total = sum(s[torch.isfinite(s)].sum() for s in scores)
        results[path] = scores, torch.autograd.grad(total, prompts)[0]
    (one_scores, one_grad), (shared_scores, shared_grad) = results.values()
    for one, shared in zip(one_scores, shared_scores):
        torch.testing.assert_close(one, shared, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(one_grad, shared_grad, atol=1e-4, rtol=1e-3)


def test_the_scoring_path_is_chosen_by_device_unless_forced(tiny_dirs, monkeypatch):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    monkeypatch.delenv("PROMPTBANK_SCORING_PATH", raising=False)
    assert causal.scoring_path(backbone) == "shared-cache"  # a CPU: compute dominates
    monkeypatch.setattr(type(backbone), "device", property(lambda self: torch.device("cuda")))
    assert causal.scoring_path(backbone) == "one-pass"  # an accelerator: launches dominate
    monkeypatch.setenv("PROMPTBANK_SCORING_PATH", "shared-cache")
    assert causal.scoring_path(backbone) == "shared-cache"
    monkeypatch.setenv("PROMPTBANK_SCORING_PATH", "two-pass")
    with pytest.raises(BadArgumentError, match="one of auto, one-pass, shared-cache"):
        causal.scoring_path(backbone)

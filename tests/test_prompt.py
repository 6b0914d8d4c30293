import pytest
import torch

from promptbank.backbones import load_backbone
from promptbank.errors import BadArgumentError, DataError, IncompatiblePromptError
from promptbank.tuning.init import VOCAB_SAMPLE_SIZE, init_prompt
from promptbank.tuning.prompt import check_compatible, load_prompt, save_prompt


@pytest.fixture
def backbone(tiny_dirs):
    return load_backbone(str(tiny_dirs["causal"]), "float32")


@pytest.mark.parametrize("method", ["random", "vocab", "text", "labels"])
def test_init_shape_and_seed(backbone, toy_task, method):
    make = lambda seed: init_prompt(backbone, 7, method, seed=seed, text="classify the review", task=toy_task)
    first, again = make(0), make(0)
    assert first.tensor.shape == (7, 32) and first.tensor.dtype == torch.float32
    assert torch.equal(first.tensor, again.tensor)
    assert first.init == method and first.backbone == backbone.name


def test_random_init_differs_by_seed(backbone):
    assert not torch.equal(init_prompt(backbone, 5, seed=0).tensor, init_prompt(backbone, 5, seed=1).tensor)


def test_vocab_init_uses_frequent_tokens(backbone):
    prompt = init_prompt(backbone, 50, "vocab", seed=3)
    table = backbone.model.get_input_embeddings().weight.cpu()
    rows = [(table == row).all(1).nonzero().flatten().tolist() for row in prompt.tensor]
    assert all(ids and ids[0] < VOCAB_SAMPLE_SIZE + len(backbone.tokenizer.all_special_ids) for ids in rows)
    assert not set(sum(rows, [])) & set(backbone.tokenizer.all_special_ids)


def test_labels_init_repeats_label_word_embeddings(backbone, toy_task):
    prompt = init_prompt(backbone, 5, "labels", task=toy_task)
    ids = backbone.tokenizer(" bad wonderful day", add_special_tokens=False)["input_ids"]
    expected = backbone.embed(torch.tensor(ids, device=backbone.device)).detach().cpu()
    assert len(ids) == 3
    torch.testing.assert_close(prompt.tensor, torch.cat([expected, expected])[:5])


def test_save_load_roundtrip_and_init_from_prompt(backbone, tmp_path):
    prompt = init_prompt(backbone, 6, "random", seed=2)
    prompt.info = {"task": "toy"}
    save_prompt(prompt, tmp_path / "p")
    loaded = load_prompt(tmp_path / "p")
    assert torch.equal(loaded.tensor, prompt.tensor) and loaded.info == {"task": "toy"}
    assert loaded.metadata()["hidden_size"] == 32 and loaded.metadata()["length"] == 6
    started = init_prompt(backbone, 6, "prompt", source=tmp_path / "p")
    assert torch.equal(started.tensor, prompt.tensor) and started.source == str(tmp_path / "p")
    with pytest.raises(BadArgumentError, match="length 6"):
        init_prompt(backbone, 4, "prompt", source=tmp_path / "p")


def test_damaged_or_missing_prompt_is_a_clear_error(backbone, tmp_path):
    save_prompt(init_prompt(backbone, 3), tmp_path / "p")
    (tmp_path / "p" / "prompt.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(DataError, match="damaged"):
        load_prompt(tmp_path / "p")
    with pytest.raises(DataError, match="not a saved prompt"):
        load_prompt(tmp_path / "nothing")


def test_prompt_of_another_backbone_is_rejected(backbone, tiny_dirs):
    prompt = init_prompt(backbone, 3)
    with pytest.raises(IncompatiblePromptError, match="hidden size 32"):
        check_compatible(prompt, load_backbone(str(tiny_dirs["causal48"]), "float32"))
    prompt.tokenizer_fingerprint = "0" * 16
    with pytest.raises(IncompatiblePromptError, match="tokenizer"):
        check_compatible(prompt, backbone)


@pytest.mark.parametrize("length", [0, -3])
def test_nonpositive_length_is_rejected(backbone, length):
    with pytest.raises(BadArgumentError, match="prompt-length"):
        init_prompt(backbone, length)


@pytest.mark.parametrize("method", ["random", "vocab", "labels"])
def test_every_init_starts_at_the_scale_of_scaled_embeddings(tiny_dirs, toy_task, method):
    """Gemma multiplies its embedding rows by sqrt(d) inside the module: inits must match what the model reads."""
    backbone = load_backbone(str(tiny_dirs["gemma"]), "float32")
    table = backbone.model.get_input_embeddings().weight.cpu()
    read = backbone.embed(torch.arange(table.shape[0], device=backbone.device)).detach().cpu()
    assert read.std() > 4 * table.std()  # the scaling is real in this model
    prompt = init_prompt(backbone, 200, method, seed=0, task=toy_task)
    assert prompt.tensor.std().item() == pytest.approx(read.std().item(), rel=0.35)


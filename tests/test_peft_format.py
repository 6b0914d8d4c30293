"""PEFT interop: an exported prompt loads with PeftModel.from_pretrained and scores exactly as promptbank does."""

import json

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from promptbank import scoring
from promptbank.backbones import Backbone, load_backbone
from promptbank.bank.peft import export_peft, read_peft
from promptbank.errors import DataError, IncompatiblePromptError
from promptbank.tuning.init import init_prompt


def peft_scores(peft_model, items) -> torch.Tensor:
    """Candidate scores computed from PEFT's own forward pass over each token row."""
    length = peft_model.peft_config["default"].num_virtual_tokens
    out = torch.full((len(items), max(i.n_candidates for i in items)), float("-inf"))
    for i, item in enumerate(items):
        out[i, :item.n_candidates] = 0
        for row, position, token, candidate in item.targets:
            ids = torch.tensor([item.rows[row]])
            logits = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
            out[i, candidate] += logits[length + position].log_softmax(-1)[token]
    return out


def test_exported_prompt_gives_promptbank_predictions_in_peft(tiny_dirs, toy_task, toy_choice_task, tmp_path):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompt = init_prompt(backbone, 6, "random", seed=4)
    export_peft(prompt, backbone, tmp_path / "peft")
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config["peft_type"] == "PROMPT_TUNING" and config["num_virtual_tokens"] == 6
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_dirs["causal"]), tmp_path / "peft")
    peft_model.eval()
    for task in (toy_task, toy_choice_task):
        items = scoring.encode(backbone, task, task.examples[:8])
        with torch.no_grad():
            ours = scoring.score(backbone, prompt.tensor, items)
            theirs = peft_scores(peft_model, items)
        ours = ours.cpu()  # the backbone may be on a GPU; the PEFT reference runs on the CPU
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
        assert ours.argmax(-1).tolist() == theirs.argmax(-1).tolist()


def test_peft_directory_imports_back(tiny_dirs, tmp_path):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    prompt = init_prompt(backbone, 4, "vocab", seed=1)
    prompt.info = {"task": "toy", "metrics": {"test": {"accuracy": 0.6}}}
    export_peft(prompt, backbone, tmp_path / "peft")
    back = read_peft(tmp_path / "peft", backbone)
    assert torch.equal(back.tensor, prompt.tensor) and back.init == "peft" and back.info["task"] == "toy"
    with pytest.raises(IncompatiblePromptError, match="hidden size 48"):
        read_peft(tmp_path / "peft", load_backbone(str(tiny_dirs["causal48"]), "float32"))


def test_other_adapters_and_pickles_are_refused(tiny_dirs, tmp_path):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(DataError, match="LORA"):
        read_peft(tmp_path / "lora", backbone)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    (tmp_path / "bin" / "adapter_model.bin").write_bytes(b"pickled")
    with pytest.raises(DataError, match="never pickled"):
        read_peft(tmp_path / "bin", backbone)
    with pytest.raises(DataError, match="not a PEFT adapter"):
        read_peft(tmp_path / "nothing", backbone)


def test_export_names_the_hub_model_and_keeps_the_local_path_beside_it(tiny_dirs, tmp_path):
    tiny = load_backbone(str(tiny_dirs["causal"]), "float32")
    bundled = Backbone("smollm2-135m", tiny.family, tiny.model, tiny.tokenizer, tiny.tokenizer_fingerprint)
    export_peft(init_prompt(bundled, 3, "random"), bundled, tmp_path / "peft")
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    provenance = json.loads((tmp_path / "peft" / "promptbank.json").read_text())
    assert provenance["base_model_local_path"] == str(tiny_dirs["causal"])

"""Every trained prompt knows the exact tensor it began from, so its task vector (prompt - init) is exact; records
stored before inits were kept are rebuilt from their recipe where they have one."""

from dataclasses import replace

import pytest
import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.bank.archive import export_archive, import_archive
from promptbank.bank.build import build_bank
from promptbank.errors import DataError
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.prompt import load_prompt, save_prompt

TINY = TrainConfig(steps=2, eval_every=2, patience=0, batch_size=4, lr=0.1)


@pytest.fixture(scope="module")
def built(tiny_dirs, tmp_path_factory):
    """A bank of two sources of one task (seeds 0 and 1), trained from random init."""
    root = tmp_path_factory.mktemp("bank") / "b"
    with PromptBank(root, create=True) as bank:
        build_bank(["movie_sentences"], bank, str(tiny_dirs["causal"]), shots=2, prompt_length=4, seeds=(0, 1),
                   config=TINY, dtype="float32", test_size=8, margin=None, progress=False)
    return root


def test_a_trained_prompt_stores_its_init_and_its_task_vector_is_exact(built, tiny_dirs):
    backbone = load_backbone(str(tiny_dirs["causal"]), "float32")
    with PromptBank(built) as bank:
        assert len(bank.list()) == 2
        for record in bank.list():
            seed = bank.get(record.id).training["seed"]
            expected = init_prompt(backbone, 4, "random", seed=seed).tensor
            assert torch.equal(bank.init_of(record.id), expected)  # stored: no backbone needed
            prompt = bank.load(record.id)
            assert torch.equal(bank.delta(record.id), prompt.tensor - expected) and prompt.delta.abs().sum() > 0
        stacked, stacked_records = bank.stack(str(tiny_dirs["causal"]), delta=True)
        for tensor, record in zip(stacked, stacked_records):
            assert torch.equal(tensor, bank.delta(record.id))
        ids = [r.id for r in reversed(stacked_records)]  # asked for by id: in the order asked for
        assert [r.id for r in bank.stack(str(tiny_dirs["causal"]), ids=ids, delta=True)[1]] == ids


def test_a_record_stored_before_inits_were_kept_is_rebuilt_bit_for_bit(built, tiny_dirs, tmp_path):
    with PromptBank(built) as bank:
        record = bank.list()[0]
        trained = bank.load(record.id)
        full = bank.get(record.id)
    with PromptBank(tmp_path / "old", create=True) as old:
        # as an older promptbank stored it: the same metadata, no init in the blob
        trained.info |= {"training": full.training, "task_format": full.task_format}
        stored = old.add(replace(trained, init_tensor=None))
        assert old.load(stored.id).init_tensor is None
        with pytest.raises(DataError, match="needs its backbone"):
            old.init_of(stored.id)
        float32 = load_backbone(str(tiny_dirs["causal"]), "float32")
        assert torch.equal(old.init_of(stored.id, float32), trained.init_tensor)
        assert torch.equal(old.stack(str(tiny_dirs["causal"]), delta=True, loaded=float32)[0][0], trained.delta)
        with pytest.raises(DataError, match="trained in float32"):
            old.init_of(stored.id, load_backbone(str(tiny_dirs["causal"]), "bfloat16"))
        labels = old.add(replace(trained, init="labels", init_tensor=None))
        with pytest.raises(DataError, match="'labels' init cannot be rebuilt"):
            old.init_of(labels.id, float32)


def test_the_init_travels_with_archives_and_saved_prompts(built, tmp_path):
    with PromptBank(built) as bank:
        record = bank.list()[0]
        prompt = bank.load(record.id)
        export_archive(bank, tmp_path / "a.tar.gz")
    with PromptBank(tmp_path / "copy", create=True) as copy:
        import_archive(copy, tmp_path / "a.tar.gz")
        assert torch.equal(copy.init_of(record.id), prompt.init_tensor)
    save_prompt(prompt, tmp_path / "p")
    assert torch.equal(load_prompt(tmp_path / "p").init_tensor, prompt.init_tensor)

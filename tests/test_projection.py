"""`promptbank project`: projectors trained from a bank between tiny backbones of two widths, projected prompts
stored with lineage and retrieved by transfer like native ones, and refusals as one-line errors."""

import pytest
import torch

from promptbank.backbones import load_backbone
from promptbank.bank import PromptBank
from promptbank.projection.model import load_projector, project
from promptbank.transfer.retrieval import sources_for
from promptbank.tuning.init import init_prompt

TASKS = ("movie_sentences", "bbc_news")


@pytest.fixture
def bank(tiny_dirs, tmp_path):
    """Source-tagged prompts of two tasks on both backbones (32 and 48 wide), as a bank build leaves them."""
    root = tmp_path / "bank"
    with PromptBank(root, create=True) as store:
        for name in ("causal", "causal48"):
            backbone = load_backbone(str(tiny_dirs[name]), "float32")
            for seed, task in enumerate(TASKS):
                prompt = init_prompt(backbone, 4, "vocab", seed=seed)
                prompt.info = {"task": task, "task_format": "single", "labels": ["a", "b"]}
                store.add(prompt, tags=["source"])
    return root


def test_train_apply_list_and_transfer_from_projected_prompts(cli, tiny_dirs, bank, tmp_path):
    small, wide = str(tiny_dirs["causal"]), str(tiny_dirs["causal48"])
    out = tmp_path / "proj"
    code, stdout, err = cli("project", "train", "--from", small, "--to", wide, "--tasks", ",".join(TASKS), "--method",
                            "distance", "--bank", bank, "--steps", 60, "--hidden", 16, "--prompt-length", 4, "--out",
                            out, "--dtype", "float32")
    assert code == 0, err
    projector = load_projector(out)
    metrics = projector.info["metrics"]
    assert metrics["final_distance"] < metrics["initial_distance"] and "final distance" in stdout
    assert (projector.source.name, projector.target.name, projector.info["tasks"]) == (small, wide, list(TASKS))
    code, stdout, err = cli("project", "apply", "--projector", out, "--bank", bank, "--tasks", "movie_sentences",
                            "--dtype", "float32")
    assert code == 0, err
    with PromptBank(bank) as store:
        (projected,) = store.list(kind="projected")
        (source,) = store.list(backbone=small, task="movie_sentences")
        assert projected.backbone == wide and projected.hidden_size == 48 and projected.task == "movie_sentences"
        assert projected.lineage["sources"] == [source.id] and projected.lineage["projector"] == projector.digest
        assert projected.lineage["projector_method"] == "distance" and projected.labels == ["a", "b"]
        target = load_backbone(wide, "float32")
        expected = project(projector, store.load(source.id), target).tensor
        assert torch.equal(store.load(projected.id).tensor, expected)
        # retrieval for a target task on the wide backbone sees the projected prompt beside the native ones
        _, records = sources_for(store, target, 4, exclude_task="bbc_news")
        assert projected.id in {r.id for r in records}
        # a target's own task stays out however its choices are scored
        lettered = sources_for(store, target, 4, exclude_task=f"{source.task}:letters")[1]
        assert lettered and source.task not in {r.task for r in lettered}
    code, stdout, _ = cli("project", "list", tmp_path)
    assert code == 0 and "proj" in stdout and "distance" in stdout


def test_task_tuning_from_the_cli_lowers_the_target_loss(cli, tiny_dirs, bank, tmp_path):
    code, stdout, err = cli("project", "train", "--from", str(tiny_dirs["causal48"]), "--to", str(tiny_dirs["causal"]),
                            "--tasks", "movie_sentences", "--bank", bank, "--steps", 20, "--hidden", 16, "--lr", 0.01,
                            "--train-size", 16, "--prompt-length", 4, "--out", tmp_path / "p", "--dtype", "float32")
    assert code == 0, err
    metrics = load_projector(tmp_path / "p").info["metrics"]
    assert metrics["final_loss"] < metrics["initial_loss"] and "final loss" in stdout


def test_the_cli_trains_task_vector_projectors_of_every_architecture(cli, tiny_dirs, bank, tmp_path):
    small, wide = str(tiny_dirs["causal"]), str(tiny_dirs["causal48"])
    common = ("--from", wide, "--to", small, "--tasks", "movie_sentences,bbc_news", "--bank", bank, "--prompt-length",
              4, "--dtype", "float32", "--inputs", "delta")
    code, stdout, err = cli("project", "train", *common, "--method", "task", "--architecture", "whole", "--steps", 2,
                            "--hidden", 8, "--train-size", 8, "--contrast-weight", 1, "--distance-weight", 0.5,
                            "--out", tmp_path / "whole")
    assert code == 0, err
    projector = load_projector(tmp_path / "whole")
    assert (projector.architecture, projector.inputs, projector.length) == ("whole", "delta", 4)
    assert projector.info["training"]["contrast_weight"] == 1 and "output cosine" in stdout
    code, stdout, err = cli("project", "train", *common, "--method", "ridge", "--architecture", "linear",
                            "--out", tmp_path / "ridge")
    assert code == 0, err
    assert load_projector(tmp_path / "ridge").info["method"] == "ridge"
    code, stdout, err = cli("project", "train", *common, "--method", "ridge", "--architecture", "linear", "--ridge",
                            1e6, "--out", tmp_path / "shrunk")
    assert code == 0 and "want a smaller --ridge" in " ".join(stdout.split()), err  # nearly all bias: said so
    code, _, err = cli("project", "apply", "--projector", tmp_path / "ridge", "--bank", bank, "--tasks",
                       "movie_sentences", "--dtype", "float32")
    assert code == 0, err
    with PromptBank(bank) as store:
        (projected,) = store.list(kind="projected", backbone=small)
        assert store.load(projected.id).init_tensor is not None  # a task vector on the target's own init


def test_refusals_are_one_line(cli, tiny_dirs, bank, tmp_path):
    small, wide = str(tiny_dirs["causal"]), str(tiny_dirs["causal48"])
    code, _, err = cli("project", "train", "--from", small, "--to", wide, "--tasks", "movie_sentences", "--method",
                       "distance", "--bank", bank, "--steps", 2, "--hidden", 8, "--prompt-length", 4, "--out",
                       tmp_path / "p", "--dtype", "float32")
    assert code == 0, err
    with PromptBank(bank) as store:
        (wide_prompt,) = store.list(backbone=wide, task="bbc_news")
    for args, words in (
            (("project", "apply", "--projector", tmp_path / "p", "--bank", bank, "--ids", wide_prompt.id),
             "maps prompts of"),
            (("project", "apply", "--projector", tmp_path, "--bank", bank), "not a saved projector"),
            (("project", "train", "--from", small, "--to", wide, "--tasks", "tweet_sentiment", "--method", "distance", "--bank",
              bank, "--prompt-length", 4, "--out", tmp_path / "q"), "no 4-token"),
            (("project", "train", "--from", small, "--to", small, "--tasks", "bbc_news", "--out", tmp_path / "q"),
             "both are"),
            (("project", "train", "--from", small, "--to", wide, "--tasks", "bbc_news", "--method", "average",
              "--out", tmp_path / "q"), "'average' is not one of")):
        code, out, err = cli(*args)
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and words in lines[0] and "Traceback" not in err + out, (args, err)
    assert not (tmp_path / "q").exists()

"""Per-backbone training recipes: what a command uses when --lr and warmup are left out."""

from promptbank.tuning.config import DEFAULT_RECIPE, RECIPES, TrainConfig, recipe_for
from promptbank.tuning.run import RunSpec


def test_bundled_backbones_train_with_their_recipe_unless_told_otherwise():
    for name, recipe in RECIPES.items():
        # what a command builds from its options: --lr left out is None, the library applies the recipe
        config = RunSpec(task="rotten_tomatoes", backbone=name, train=TrainConfig(steps=10, lr=None)).train
        assert (config.lr, config.warmup, config.steps) == (recipe.lr, recipe.warmup, 10)
        assert RunSpec(task="rotten_tomatoes", backbone=name, train=TrainConfig(lr=0.5)).train.lr == 0.5  # --lr wins


def test_other_models_get_the_library_defaults():
    assert recipe_for("/some/local/model") == recipe_for("another") and recipe_for("x") == DEFAULT_RECIPE
    assert TrainConfig().for_backbone("/some/local/model").lr == DEFAULT_RECIPE.lr


def test_a_library_call_trains_with_the_recipe_as_the_cli_does():
    assert RunSpec(task="rotten_tomatoes", backbone="gemma3-270m").train.lr == RECIPES["gemma3-270m"].lr
    recipe = RECIPES["gemma3-270m"]
    assert TrainConfig().for_backbone("gemma3-270m") == TrainConfig(lr=recipe.lr, warmup=recipe.warmup)


def test_backbones_command_lists_each_recipe(cli):
    code, out, _ = cli("backbones")
    assert code == 0 and "gemma3-270m" in out and "Gemma Terms of Use" in out
    assert f"{RECIPES['gemma3-270m'].lr:g}" in out

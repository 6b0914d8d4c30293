"""Per-backbone training recipes: what a command uses when --lr and warmup are left out."""

from promptbank.cli.app import train_config
from promptbank.recipe import RECIPES, recipe_for
from promptbank.train import TrainConfig


def test_bundled_backbones_train_with_their_recipe_unless_told_otherwise():
    for name, recipe in RECIPES.items():
        config = train_config(name, steps=10)
        assert (config.lr, config.warmup, config.steps) == (recipe.lr, recipe.warmup, 10)
        assert train_config(name, lr=0.5).lr == 0.5  # an explicit --lr wins


def test_other_models_get_the_library_defaults():
    assert recipe_for("/some/local/model") == recipe_for("another") and recipe_for("x").lr == TrainConfig.lr
    assert train_config("/some/local/model").lr == TrainConfig.lr


def test_backbones_command_lists_each_recipe(cli):
    code, out, _ = cli("backbones")
    assert code == 0 and "gemma3-270m" in out and "Gemma Terms of Use" in out
    assert f"{RECIPES['gemma3-270m'].lr:g}" in out

"""The top-level public API: every name resolves, and importing the package loads no torch."""

import subprocess
import sys

import promptbank


def test_every_public_name_resolves_to_the_object_its_module_defines():
    for name in promptbank.__all__:
        assert getattr(promptbank, name) is not None, name
    assert promptbank.train_prompt.__module__ == "promptbank.tuning.loop" and promptbank.__version__ == "0.2.0"


def test_importing_promptbank_loads_no_torch():
    code = "import sys, promptbank; assert 'torch' not in sys.modules; promptbank.TrainConfig(); " \
           "assert 'torch' not in sys.modules; promptbank.PromptBank; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

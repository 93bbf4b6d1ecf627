"""`python -m safeval.testing --delay 0.1`: the scripted OpenAI-compatible server, standalone."""

from safeval.testing.openai_server import main

main()

"""`python -m safeval` is the `safeval` command."""

from safeval.cli import main

main()

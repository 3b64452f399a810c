"""`python -m costops`."""

from costops.cli import main

main()

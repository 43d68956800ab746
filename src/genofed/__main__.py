"""``python -m genofed``: the same as the ``genofed`` command."""

from genofed.cli import main

main()

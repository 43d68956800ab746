"""genofed.cli (being built)."""

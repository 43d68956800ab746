"""genofed.query (being built)."""

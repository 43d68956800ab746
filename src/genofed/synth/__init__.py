"""genofed.synth (being built)."""

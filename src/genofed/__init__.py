"""genofed: federated genomic medicine across national nodes."""

__version__ = "0.1.0"
__all__ = ["__version__"]

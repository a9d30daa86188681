"""mindzoo: small open language models in MindSpore graph mode, with PyTorch twins and parity proofs."""

__version__ = "0.1.0"

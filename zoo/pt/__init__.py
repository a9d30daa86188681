"""PyTorch-only building blocks, twins of zoo.ms."""

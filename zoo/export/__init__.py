"""Exports from the zoo's checkpoints to other engines' formats (MindFormers, for multi-card Ascend training)."""

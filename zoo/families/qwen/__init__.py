"""Qwen family: Qwen2 / Qwen2.5 and Qwen3 causal LMs. They are Llama-architecture decoders (q/k/v biases
for Qwen2, per-head q/k RMSNorm for Qwen3), so the family reads their configs and names and builds the
llama family's models. The Family is in family.py."""

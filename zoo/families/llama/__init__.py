"""Llama family: Llama-architecture causal LMs (Llama 1-3.2, SmolLM2, TinyLlama); its modeling files also
serve the qwen family. The Family is in family.py."""

"""OPT family: decoder-only causal LMs (facebook/opt-*, OPT-C4), pre- and post-LN, projected embeddings.
The Family is in family.py."""

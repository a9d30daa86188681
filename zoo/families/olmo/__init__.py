"""OLMo family: OLMo-1 causal LMs in hf_olmo format (the DataDecide suite, OLMo ladder models) and in
transformers' own OLMo-1 format (`OlmoForCausalLM`, model_type "olmo"). The Family is in family.py."""

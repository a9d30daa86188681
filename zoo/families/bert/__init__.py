"""BERT family: BERT and DistilBERT encoders, sentence-embedding and sequence-classification heads.
The Family is in family.py."""

"""Data pipelines, each as a mindspore.dataset pipeline and a torch DataLoader twin."""

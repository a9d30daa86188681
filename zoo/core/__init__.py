"""The framework-free core: numpy and the standard library only, importable without MindSpore or torch."""

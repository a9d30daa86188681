"""One error hierarchy: the CLI turns any ZooError into one line on stderr and exit code 2."""


class ZooError(Exception):
    """Bad input from the user's side: a checkpoint, a config, an input batch, a hub request."""


class CheckpointError(ZooError):
    """A checkpoint that is unreadable, truncated, or does not match the model's parameters."""


class ConfigError(ZooError):
    """A config.json the zoo cannot express faithfully."""


class InputError(ZooError):
    """Model inputs out of range: token ids past the vocabulary, sequences past the maximum."""


class HubError(ZooError):
    """A download or cache problem: missing model, missing revision, offline, corrupted file."""


class ExportError(ConfigError):
    """A model whose math the target engine (e.g. MindFormers' Llama) cannot express."""

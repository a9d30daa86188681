"""Data errors: each names the file (and line or row) that is wrong and what to do about it."""

from zoo.core.errors import InputError


class DataError(InputError):
    """A corpus, a labelled file or a tokenizer the pipelines cannot use."""


class EmptyCorpusError(DataError):
    """No usable text: every file empty, or every line blank."""


class EncodingError(DataError):
    """Bytes that are not UTF-8: names the file and the line."""


class LabelError(DataError):
    """A label outside the declared class set: names the file, row and label."""


class TokenizerError(DataError):
    """A tokenizer without the special token (EOS, pad) that a pipeline needs."""


class ArrowFormatError(DataError):
    """An Arrow file this reader cannot decode (truncated, or a column type it does not support)."""

"""Tokenization shared by both twins: HF `tokenizers` (Rust, framework-free), ids as int32 numpy arrays.

The special tokens a pipeline needs (EOS to join documents, pad to fill buckets) are looked up once,
from tokenizer_config.json / special_tokens_map.json when the folder has them, else from the usual
names; a tokenizer without them is refused up front rather than producing ids that silently mean
something else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.errors import DataError, TokenizerError

CANDIDATES = {
    "pad": ("[PAD]", "<pad>", "<|padding|>", "<|pad|>"),
    "eos": ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>"),
}
CONFIG_KEYS = {"pad": "pad_token", "eos": "eos_token"}


def _token_text(value: object) -> str | None:
    if isinstance(value, dict):  # {"content": "[PAD]", ...} in newer tokenizer configs
        value = value.get("content")
    return value if isinstance(value, str) else None


@dataclass
class TextTokenizer:
    """A `tokenizers.Tokenizer` plus the ids of its special tokens; picklable for worker processes."""

    tokenizer: object          # tokenizers.Tokenizer
    source: str
    declared: dict[str, str]   # role -> token text from the folder's config files

    @classmethod
    def load(cls, source: str | os.PathLike) -> TextTokenizer:
        from tokenizers import Tokenizer

        path = Path(source)
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise TokenizerError(f"{source}: no tokenizer.json; pass a model folder or a tokenizer.json file")
        try:
            tokenizer = Tokenizer.from_file(str(file))
        except Exception as err:  # the Rust side raises a plain Exception
            raise TokenizerError(f"{file}: not a loadable tokenizers file ({err})") from err
        tokenizer.no_padding()
        tokenizer.no_truncation()
        declared: dict[str, str] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            config = file.parent / name
            if config.is_file():
                raw = json.loads(config.read_text(encoding="utf-8"))
                for role, key in CONFIG_KEYS.items():
                    text = _token_text(raw.get(key))
                    if text is not None:
                        declared.setdefault(role, text)
        return cls(tokenizer, str(file), declared)

    def special_id(self, role: str, needed_by: str) -> int:
        """The id of the EOS or pad token, or a TokenizerError saying which token is missing and for what."""
        names = (self.declared[role],) if role in self.declared else CANDIDATES[role]
        for name in names:
            token_id = self.tokenizer.token_to_id(name)
            if token_id is not None:
                return int(token_id)
        raise TokenizerError(
            f"{self.source}: the tokenizer has no {role.upper()} token ({' / '.join(names)} not in its "
            f"vocabulary), which {needed_by} needs; use a tokenizer that defines one, or declare it as "
            f"{CONFIG_KEYS[role]} in tokenizer_config.json"
        )

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str, special_tokens: bool) -> np.ndarray:
        return np.asarray(self.tokenizer.encode(text, add_special_tokens=special_tokens).ids, dtype=np.int32)

    def encode_many(self, texts: list[str], special_tokens: bool) -> list[np.ndarray]:
        if not texts:
            raise DataError("nothing to tokenize: the text list is empty")
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=special_tokens)
        return [np.asarray(e.ids, dtype=np.int32) for e in encodings]

"""The checkpoint's own tokenizer, for `mindzoo generate` and `mindzoo eval`.

Text goes in and out through the files in the model folder (tokenizer.json, or vocab / merges files,
plus tokenizer_config.json), read by transformers' tokenizer classes with `trust_remote_code=False`:
a model repository's Python code is never executed. A folder whose config names a model type
transformers does not know (hf_olmo) still loads when it has a tokenizer.json: the fast tokenizer is
built from that file and the special tokens of tokenizer_config.json.

Both frameworks see the same ids: tokenization is host-side and framework-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.core.errors import InputError

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model", "vocab.txt", "spiece.model")


class TokenizerMissing(InputError):
    """The model folder has no tokenizer files: text cannot be turned into ids."""


@dataclass
class Tokenizer:
    """A transformers tokenizer plus what generation and scoring need to know about it."""

    hf: Any                       # transformers.PreTrainedTokenizerBase
    folder: Path

    @classmethod
    def load(cls, folder: str | Path) -> Tokenizer:
        folder = Path(folder)
        if not any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise TokenizerMissing(
                f"{folder}: no tokenizer files ({', '.join(TOKENIZER_FILES)}); text needs the checkpoint's own "
                "tokenizer: pull the model again (tokenizer files are fetched with it) or copy them into the folder")
        import transformers

        transformers.logging.set_verbosity_error()
        try:
            hf = transformers.AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, use_fast=True)
        except (ValueError, KeyError, OSError) as err:
            # hf_olmo and other model types transformers does not know: build from tokenizer.json directly
            if not (folder / "tokenizer.json").is_file():
                raise TokenizerMissing(f"{folder}: transformers cannot load its tokenizer ({err})") from err
            hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"),
                                                      **_special_tokens(folder))
        return cls(hf, folder)

    # ------------------------------------------------------------------------------------------ ids

    def encode(self, text: str, special_tokens: bool = False) -> list[int]:
        return list(self.hf(text, add_special_tokens=special_tokens)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    @property
    def prefix_ids(self) -> list[int]:
        """The special tokens this tokenizer puts before a text by default (Llama's and OPT's BOS; none
        for GPT-NeoX / OLMo / Qwen). Scoring prepends them to every context, as the model saw in training."""
        plain = self.encode("a", False)
        full = self.encode("a", True)
        for start in range(len(full) - len(plain) + 1):
            if full[start:start + len(plain)] == plain:
                return full[:start]
        return []

    @property
    def eos_id(self) -> int | None:
        return self.hf.eos_token_id

    @property
    def bos_id(self) -> int | None:
        return self.hf.bos_token_id

    # ----------------------------------------------------------------------------------------- chat

    @property
    def chat_template(self) -> str | None:
        template = getattr(self.hf, "chat_template", None)
        return template if isinstance(template, str) and template.strip() else None

    def render_chat(self, prompt: str, system: str | None = None) -> str:
        """One user turn (and an optional system turn) through the checkpoint's chat template, ending in
        the assistant's generation prompt; the rendered text includes any BOS the template writes."""
        if self.chat_template is None:
            raise InputError(f"{self.folder}: the tokenizer has no chat_template; drop --chat")
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return self.hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _special_tokens(folder: Path) -> dict[str, str]:
    """bos / eos / unk / pad token texts from tokenizer_config.json and special_tokens_map.json."""
    found: dict[str, str] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / name
        if not path.is_file():
            continue
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            value = raw.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                found.setdefault(key, value)
        if isinstance(raw.get("chat_template"), str):
            found.setdefault("chat_template", raw["chat_template"])
    return found

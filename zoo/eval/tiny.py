"""A tokenizer for the tiny random checkpoints, so that `generate` and `eval` run on them end to end.

The tiny checkpoints (each family's tiny.py) have vocabularies of 96-128 ids, 96 positions and no
tokenizer. This trains a word-level tokenizer (words and punctuation runs; the most frequent ones of the
embedded task samples, every other word -> <unk>) with `tokenizers`, no larger than the model's
vocabulary, and saves it with transformers' PreTrainedTokenizerFast (tokenizer.json,
tokenizer_config.json) into a copy of the folder. One token per word keeps every choice of the embedded
samples within 96 positions (a character-level BPE of 96 ids made HellaSwag and PIQA choices of 100+).
Test and demo scaffolding: scores of a random model mean nothing, their agreement across backends does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SPECIALS = ("<unk>", "<pad>", "</s>")     # ids 0, 1, 2: OPT's pad 1 / eos 2 are the same ids
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def training_texts() -> list[str]:
    from zoo.eval.tasks import data_path, presets

    texts = []
    for task in presets().values():
        if task.sample:
            for line in data_path(task.sample).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                texts.append(row.get("text") or row["context"] + " " + " ".join(row["choices"]))
    return texts


def with_tokenizer(folder: Path, out: Path, vocab_size: int | None = None, chat_template: str | None = None) -> Path:
    """A copy of `folder` at `out` with a BPE tokenizer of at most the model's vocabulary size."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder, out = Path(folder), Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder, out)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    size = vocab_size or int(config["vocab_size"])
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=size, special_tokens=list(SPECIALS), show_progress=False)
    tokenizer.train_from_iterator(training_texts(), trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>",
                                                eos_token="</s>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(str(out))
    return out

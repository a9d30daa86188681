"""`mindzoo export-mindformers MODEL OUTDIR`: a model as MindFormers' Llama, with an msrun training YAML.

MindFormers' `LlamaForCausalLM` trains pre-norm RMSNorm / RoPE / SwiGLU decoders on as many Ascend cards
as msrun starts. A family that is Llama math says how its weights map onto MindFormers' names and which
LlamaConfig fields its config fixes (its `export_mindformers` hook, zoo.core.family.MindFormersLlama);
this module writes the checkpoint through the zoo's one conversion engine, run backwards, and the YAML.
What a family's model cannot express in MindFormers' Llama is refused by the hook, by name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.core.errors import CheckpointError, ConfigError, ExportError

if TYPE_CHECKING:
    from zoo.core.checkpoint import StateDict
    from zoo.core.family import MindFormersLlama
    from zoo.models import ModelSpec

CHECKPOINT = "model.ckpt"
YAML = "train_llama_msrun.yaml"


def export_spec(spec: ModelSpec) -> MindFormersLlama:
    """The family's export spec, or an ExportError naming why this model cannot be written."""
    if spec.family.export_mindformers is None:
        raise ExportError(f"{spec.name}: export-mindformers writes MindFormers' Llama, and the {spec.family.name} "
                          "family is not Llama math (it has no export to MindFormers)")
    return spec.family.export_mindformers(spec.config, spec.name)


def _ms_dtype_name(spec: ModelSpec) -> str:
    """The checkpoint's own float dtype (bf16 stays bf16), read from the safetensors headers."""
    from zoo.core.checkpoint import weight_files
    from zoo.core.safetensors import read_header

    dtypes = {s.dtype for p in weight_files(spec.folder) if p.suffix == ".safetensors"
              for s in read_header(p)[0] if s.is_float}
    for stored, name in (("BF16", "bfloat16"), ("F16", "float16")):
        if stored in dtypes:
            return name
    return "float32"


def to_mindformers(spec: ModelSpec, state: StateDict) -> StateDict:
    """Zoo-named weights -> MindFormers Llama names (fused projections split, unit norms written)."""
    from zoo.core.checkpoint import from_zoo

    export = export_spec(spec)
    out = from_zoo(state, export.keymap)
    for name in export.unit_norms:      # an RMSNorm without a weight == Llama RMSNorm with weight 1
        out[name] = np.ones(export.unit_width, np.float32)
    return out


def from_mindformers(spec: ModelSpec, tensors: dict[str, np.ndarray]) -> StateDict:
    """The inverse, strictly (every name used once, every zoo parameter set, shapes checked)."""
    from zoo.core.checkpoint import to_zoo
    from zoo.models import expected_params

    export = export_spec(spec)
    tensors = dict(tensors)
    for name in export.unit_norms:
        value = tensors.pop(name, None)
        if value is None or not np.array_equal(value, np.ones_like(value)):
            raise CheckpointError(f"{name}: the model's RMSNorm has no weight, so the export must hold ones here")
    return to_zoo(tensors, export.keymap, expected_params(spec, "mindspore"), source="MindFormers checkpoint")


def llama_config(spec: ModelSpec, param_dtype: str, seq_length: int, batch_size: int) -> dict:
    """MindFormers' LlamaConfig for this model: the fields the family fixes, and the run's (compute in bf16
    with fp32 norms, softmax and RoPE, as MindFormers' own Ascend recipes)."""
    return {
        "type": "LlamaConfig",
        "batch_size": batch_size,
        "seq_length": seq_length,
        **export_spec(spec).config,
        "qkv_concat": False,
        "ignore_token_id": -100,
        "compute_dtype": "bfloat16",
        "layernorm_compute_type": "float32",
        "softmax_compute_type": "float32",
        "rotary_dtype": "float32",
        "param_init_type": param_dtype,
        "use_past": False,
        "checkpoint_name_or_path": "",
    }


def training_yaml(spec: ModelSpec, checkpoint: Path, cards: int, param_dtype: str, seq_length: int,
                  batch_size: int, lr: float) -> dict:
    """A run_mindformer.py config: data parallel over `cards` Ascend cards, started by msrun."""
    return {
        "seed": 0,
        "output_dir": "./output",
        "run_mode": "train",
        "use_legacy": True,                 # MindFormers' LlamaForCausalLM (not the mcore models)
        "load_checkpoint": str(checkpoint),
        "load_ckpt_format": "ckpt",
        "auto_trans_ckpt": False,           # pure data parallel: every card loads the whole checkpoint
        "resume_training": False,
        "use_parallel": cards > 1,
        "trainer": {"type": "CausalLanguageModelingTrainer", "model_name": f"zoo_{Path(spec.name).name}"},
        "runner_config": {"epochs": 1, "batch_size": batch_size, "sink_mode": True, "sink_size": 1,
                          "gradient_accumulation_steps": 1},
        "optimizer": {"type": "AdamW", "betas": [0.9, 0.95], "eps": 1.0e-8, "weight_decay": 0.1},
        "lr_schedule": {"type": "CosineWithWarmUpLR", "learning_rate": lr, "lr_end": float(f"{lr / 10:.6g}"),
                        "warmup_ratio": 0.01, "total_steps": -1},
        "train_dataset": {
            # Packed windows of seq_length + 1 token ids in an `input_ids` column (MindRecord).
            "data_loader": {"type": "MindDataset", "dataset_dir": "", "shuffle": True},
            "input_columns": ["input_ids"], "num_parallel_workers": 8, "python_multiprocessing": False,
            "drop_remainder": True, "batch_size": batch_size, "repeat": 1, "numa_enable": False,
            "prefetch_size": 1},
        "train_dataset_task": {"type": "CausalLanguageModelDataset"},
        "do_eval": False,
        "parallel": {"parallel_mode": 0, "gradients_mean": True, "enable_alltoall": False, "full_batch": False,
                     "search_mode": "sharding_propagation", "enable_parallel_optimizer": False,
                     "strategy_ckpt_save_file": "./ckpt_strategy.ckpt"},
        "parallel_config": {"data_parallel": cards, "model_parallel": 1, "pipeline_stage": 1,
                            "use_seq_parallel": False, "micro_batch_num": 1, "vocab_emb_dp": True,
                            "gradient_aggregation_group": 4},
        "micro_batch_interleave_num": 1,
        "recompute_config": {"recompute": False, "select_recompute": False,
                             "parallel_optimizer_comm_recompute": False, "mp_comm_recompute": False,
                             "recompute_slice_activation": False},
        "callbacks": [{"type": "MFLossMonitor"},
                      {"type": "CheckpointMonitor", "prefix": "llama", "save_checkpoint_steps": 1000,
                       "keep_checkpoint_max": 2, "integrated_save": False, "async_save": False}],
        "context": {"mode": 0, "device_target": "Ascend", "max_call_depth": 10000, "max_device_memory": "58GB",
                    "save_graphs": False, "device_id": 0},
        "model": {"model_config": llama_config(spec, param_dtype, seq_length, batch_size),
                  "arch": {"type": "LlamaForCausalLM"}},
        "runner_wrapper": {"type": "MFTrainOneStepCell", "scale_sense": 1.0, "use_clip_grad": True},
    }


def _yaml_header(cards: int, name: str) -> str:
    return (f"# MindFormers training config for {name}, written by `mindzoo export-mindformers`.\n"
            "# Set train_dataset.data_loader.dataset_dir to a MindRecord of packed `input_ids` windows\n"
            "# (seq_length + 1 tokens each), then from a MindFormers checkout, on the Ascend host:\n"
            f"#   bash scripts/msrun_launcher.sh \"run_mindformer.py --config {YAML} --run_mode train\" {cards}\n"
            "# or directly:\n"
            f"#   msrun --worker_num={cards} --local_worker_num={cards} --master_port=8118 --join=True \\\n"
            f"#     run_mindformer.py --config {YAML} --run_mode train\n")


def write_ckpt(tensors: StateDict, path: Path, param_dtype: str) -> Path:
    """MindSpore's .ckpt (what MindFormers loads), in the parameters' dtype, written atomically."""
    import mindspore as ms

    from zoo.train.distributed import write_atomic

    dtype = {"float32": ms.float32, "float16": ms.float16, "bfloat16": ms.bfloat16}[param_dtype]
    params = [{"name": name, "data": ms.Tensor(np.asarray(t, np.float32)).astype(dtype)}
              for name, t in tensors.items()]

    def save(tmp: str) -> None:
        target = tmp + ".ckpt"                      # save_checkpoint insists on the suffix
        ms.save_checkpoint(params, target)
        os.replace(target, tmp)

    return write_atomic(path, save)


def export(model: str | Path, outdir: str | Path, cards: int = 8, seq_length: int | None = None,
           batch_size: int = 1, lr: float = 3e-4) -> dict[str, Path]:
    """Write OUTDIR/model.ckpt (MindFormers names) and OUTDIR/train_llama_msrun.yaml."""
    import yaml

    from zoo.models import resolve, zoo_state
    from zoo.train.distributed import write_atomic

    spec = resolve(str(model))
    export_spec(spec)
    if cards < 1:
        raise ConfigError(f"--cards must be >= 1, got {cards}")
    seq_length = seq_length or spec.config.max_position_embeddings
    if seq_length > spec.config.max_position_embeddings:
        raise ConfigError(f"--seq-length {seq_length} exceeds the model's max_sequence_length "
                          f"{spec.config.max_position_embeddings}")
    state = zoo_state(spec)
    param_dtype = _ms_dtype_name(spec)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ckpt = write_ckpt(to_mindformers(spec, state), outdir / CHECKPOINT, param_dtype)
    config = training_yaml(spec, ckpt.resolve(), cards, param_dtype, seq_length, batch_size, lr)
    text = _yaml_header(cards, spec.name) + yaml.safe_dump(config, sort_keys=False)
    path = write_atomic(outdir / YAML, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return {"checkpoint": ckpt, "config": path}


def read_ckpt(path: str | Path) -> StateDict:
    """A MindSpore .ckpt as numpy arrays (fp32 for bf16, which numpy cannot hold)."""
    import mindspore as ms

    out = {}
    for name, param in ms.load_checkpoint(str(path)).items():
        value = param.astype(ms.float32) if param.dtype == ms.bfloat16 else param
        out[name] = value.asnumpy().copy()
    return out


def verify_in_mindformers(outdir: str | Path) -> dict[str, object]:
    """Build MindFormers' own model from the written YAML and load the checkpoint into it strictly.

    MindFormers' models instantiate on CPU (their forward needs Ascend kernels), so this checks
    everything but the numbers: the class the YAML names, every parameter name and shape on both sides,
    nothing left unloaded, nothing unused. The numbers are checked through the zoo (`from_mindformers`).
    """
    outdir = Path(outdir)
    # MindFormers logs into ./output/log by default: keep that beside the export, not in the cwd.
    os.environ.setdefault("LOCAL_DEFAULT_PATH", str(outdir.resolve() / "mindformers-output"))
    try:
        import mindspore as ms
        from mindformers import MindFormerConfig
        from mindformers.models.build_model import build_network
    except ImportError as err:
        raise ExportError(f"verifying the export needs MindFormers ({err}); install the extra: "
                          "pip install -c requirements/lock.txt -e '.[mindformers]'") from err

    config = MindFormerConfig(str(outdir / YAML))
    net = build_network(config.model)
    wanted = {name: tuple(p.shape) for name, p in net.parameters_and_names()}
    tensors = ms.load_checkpoint(str(config.load_checkpoint))
    held = {name: tuple(p.shape) for name, p in tensors.items()}
    problems = [f"missing: {', '.join(sorted(set(wanted) - set(held)))}" if set(wanted) - set(held) else "",
                f"unexpected: {', '.join(sorted(set(held) - set(wanted)))}" if set(held) - set(wanted) else "",
                "; ".join(f"{n}: checkpoint {held[n]} vs model {wanted[n]}"
                          for n in sorted(set(held) & set(wanted)) if held[n] != wanted[n])]
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(f"{outdir / CHECKPOINT} does not match MindFormers' {type(net).__name__}: "
                              + "; ".join(problems))
    not_loaded, unused = ms.load_param_into_net(net, tensors, strict_load=True)
    if not_loaded or unused:
        raise CheckpointError(f"MindFormers' {type(net).__name__} left parameters unloaded ({not_loaded}) or "
                              f"checkpoint tensors unused ({unused})")
    return {"class": type(net).__name__, "parameters": len(wanted), "checkpoint_tensors": len(held)}

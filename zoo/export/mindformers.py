"""`mindzoo export-mindformers MODEL OUTDIR`: an OLMo-1 / DataDecide checkpoint as MindFormers' Llama.

The OLMo-1 ladder (DataDecide) models are Llama math: pre-norm blocks, RMSNorm with a weight, RoPE in
the rotate-half layout (transformers' Llama, which MindFormers' own converter takes by renaming
alone), SwiGLU, no biases, one KV head per query head. So MindFormers' `LlamaForCausalLM` trains them
as they are, on as many Ascend cards as msrun starts. The export is a key table (`keymap()`) run by the zoo's one
conversion engine (zoo/checkpoint.py), backwards:

    att_proj = [wq; wk; wv]            (rows: q | k | v, each d_model)
    ff_proj  = [w3; w1]                (rows: value | gate: hf_olmo's SwiGLU is silu(gate) * value)
    Llama:  w2(silu(w1 x) * w3 x)      so  w1 = gate (second half), w3 = value (first half), w2 = ff_out

What the Llama cannot say is refused by name: LayerNorm (OLMo-1B/7B's non-parametric, mean-subtracting
norm), clip_qkv. An RMSNorm without a weight is a Llama RMSNorm whose weight is 1: written as ones.
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # torch (via zoo.checkpoint) is imported when an export runs, not when the CLI builds its parser
    from zoo.checkpoint import KeyMap, StateDict
    from zoo.models import ModelSpec

CHECKPOINT = "model.ckpt"
YAML = "train_llama_msrun.yaml"
FLASH_HEAD_DIMS = 16    # FlashAttentionScore: head_dim a multiple of 16 (ASCEND_NOTES.md section 1)

@functools.cache
def keymap() -> KeyMap:
    """MindFormers' LlamaForCausalLM parameter names (the upstream side) -> the zoo's OLMo names."""
    from zoo.checkpoint import Fuse, KeyMap

    return KeyMap(
        rules={
            "model.tok_embeddings.embedding_weight": "model.embed_tokens.weight",
            "model.layers.{}.attention_norm.weight": "model.layers.{}.attn_norm.weight",
            "model.layers.{}.attention.wo.weight": "model.layers.{}.attention.attn_out.weight",
            "model.layers.{}.ffn_norm.weight": "model.layers.{}.ff_norm.weight",
            "model.layers.{}.feed_forward.w2.weight": "model.layers.{}.mlp.ff_out.weight",
            "model.norm_out.weight": "model.norm.weight",
            "lm_head.weight": "lm_head.weight",
        },
        fuses=(
            Fuse(("model.layers.{}.attention.wq.weight", "model.layers.{}.attention.wk.weight",
                  "model.layers.{}.attention.wv.weight"), "model.layers.{}.attention.att_proj.weight"),
            Fuse(("model.layers.{}.feed_forward.w3.weight", "model.layers.{}.feed_forward.w1.weight"),  # value|gate
                 "model.layers.{}.mlp.ff_proj.weight"),
        ),
    )


NORMS = ("model.layers.{}.attention_norm.weight", "model.layers.{}.ffn_norm.weight")


class ExportError(ConfigError):
    """A model whose math MindFormers' Llama cannot express."""


def check_expressible(spec: ModelSpec) -> None:
    """Refuse, by name, every option MindFormers' LlamaForCausalLM would silently compute differently."""
    family = spec.family.NAME
    if family != "olmo":
        raise ExportError(
            f"{spec.name}: export-mindformers writes MindFormers' Llama, which expresses the OLMo-1 / DataDecide "
            f"models (RMSNorm, RoPE, SwiGLU, no biases); the {family} family is not Llama math "
            f"({'an encoder' if family == 'bert' else 'LayerNorm, learned positions, biases'})")
    c = spec.config
    if c.norm_type != "rms":
        weight = "" if c.norm_affine else ", without a weight"
        raise ExportError(
            f"{spec.name}: its norms are LayerNorm (mean-subtracting{weight}), as in OLMo-1B / 7B; MindFormers' "
            "Llama normalises with RMSNorm and would compute different activations. Only RMSNorm OLMo models "
            "(the DataDecide ladder) can be exported")
    if c.clip_qkv is not None:
        raise ExportError(f"{spec.name}: clip_qkv={c.clip_qkv} clamps q, k and v; MindFormers' Llama has no such "
                          "clamp and would train a different model")


def _ms_dtype_name(state: StateDict) -> str:
    import torch

    dtypes = {t.dtype for t in state.values()}
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        if dtype in dtypes:
            return name
    return "float32"


def to_mindformers(spec: ModelSpec, state: StateDict) -> StateDict:
    """Zoo-named OLMo weights -> MindFormers Llama names (q/k/v and gate/value split, unit norms written)."""
    import torch

    check_expressible(spec)
    from zoo.checkpoint import from_zoo

    out = from_zoo(state, keymap())
    if not spec.config.norm_affine:   # RMSNorm without a weight == Llama RMSNorm with weight 1
        ones = torch.ones(spec.config.hidden_size, dtype=state["model.embed_tokens.weight"].dtype)
        for layer in range(spec.config.num_layers):
            for pattern in NORMS:
                out[pattern.format(layer)] = ones.clone()
        out["model.norm_out.weight"] = ones.clone()
    return out


def from_mindformers(spec: ModelSpec, tensors: dict[str, Any]) -> StateDict:
    """The inverse, strictly (every name used once, every zoo parameter set, shapes checked)."""
    import torch

    from zoo.checkpoint import to_zoo
    from zoo.models import expected_params

    tensors = dict(tensors)
    if not spec.config.norm_affine:
        names = [p.format(i) for i in range(spec.config.num_layers) for p in NORMS] + ["model.norm_out.weight"]
        for name in names:
            value = tensors.pop(name, None)
            if value is None or not torch.equal(value, torch.ones_like(value)):
                raise CheckpointError(f"{name}: the model's RMSNorm has no weight, so the export must hold ones here")
    return to_zoo(tensors, keymap(), expected_params(spec), source="MindFormers checkpoint")


def llama_config(spec: ModelSpec, param_dtype: str, seq_length: int, batch_size: int) -> dict:
    """MindFormers' LlamaConfig fields for this model (compute in bf16 with fp32 norms, softmax and RoPE,
    as MindFormers' own Ascend recipes)."""
    c = spec.config
    config = {
        "type": "LlamaConfig",
        "batch_size": batch_size,
        "seq_length": seq_length,
        "hidden_size": c.hidden_size,
        "num_layers": c.num_layers,
        "num_heads": c.num_heads,
        "n_kv_heads": c.num_heads,
        "intermediate_size": c.mlp_hidden_size // 2,
        "vocab_size": c.embedding_size,        # the embedding's rows (padded past the tokenizer's vocabulary)
        "max_position_embedding": c.max_position_embeddings,
        "rms_norm_eps": c.norm_eps,
        "theta": c.rope_theta,
        "tie_word_embeddings": c.tie_word_embeddings,
        "qkv_has_bias": False,
        "qkv_concat": False,
        "ignore_token_id": -100,
        "compute_dtype": "bfloat16",
        "layernorm_compute_type": "float32",
        "softmax_compute_type": "float32",
        "rotary_dtype": "float32",
        "param_init_type": param_dtype,
        "use_past": False,
        "use_flash_attention": c.head_dim % FLASH_HEAD_DIMS == 0,
        "checkpoint_name_or_path": "",
    }
    if c.eos_token_id is not None:
        config["eos_token_id"] = c.eos_token_id
    if c.pad_token_id is not None:
        config["pad_token_id"] = c.pad_token_id
    return config


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

    from zoo.distributed import write_atomic

    dtype = {"float32": ms.float32, "float16": ms.float16, "bfloat16": ms.bfloat16}[param_dtype]
    params = [{"name": name, "data": ms.Tensor(t.float().numpy()).astype(dtype)} for name, t in tensors.items()]

    def save(tmp: str) -> None:
        target = tmp + ".ckpt"                      # save_checkpoint insists on the suffix
        ms.save_checkpoint(params, target)
        os.replace(target, tmp)

    return write_atomic(path, save)


def export(model: str | Path, outdir: str | Path, cards: int = 8, seq_length: int | None = None,
           batch_size: int = 1, lr: float = 3e-4) -> dict[str, Path]:
    """Write OUTDIR/model.ckpt (MindFormers names) and OUTDIR/train_llama_msrun.yaml."""
    import yaml

    from zoo.distributed import write_atomic
    from zoo.models import resolve, zoo_state

    spec = resolve(str(model))
    check_expressible(spec)
    if cards < 1:
        raise ConfigError(f"--cards must be >= 1, got {cards}")
    seq_length = seq_length or spec.config.max_position_embeddings
    if seq_length > spec.config.max_position_embeddings:
        raise ConfigError(f"--seq-length {seq_length} exceeds the model's max_sequence_length "
                          f"{spec.config.max_position_embeddings}")
    state = zoo_state(spec)
    param_dtype = _ms_dtype_name(state)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ckpt = write_ckpt(to_mindformers(spec, state), outdir / CHECKPOINT, param_dtype)
    config = training_yaml(spec, ckpt.resolve(), cards, param_dtype, seq_length, batch_size, lr)
    text = _yaml_header(cards, spec.name) + yaml.safe_dump(config, sort_keys=False)
    path = write_atomic(outdir / YAML, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return {"checkpoint": ckpt, "config": path}


def read_ckpt(path: str | Path) -> StateDict:
    """A MindSpore .ckpt as torch tensors (fp32 for bf16, which numpy cannot hold)."""
    import mindspore as ms
    import torch

    out = {}
    for name, param in ms.load_checkpoint(str(path)).items():
        value = param.astype(ms.float32) if param.dtype == ms.bfloat16 else param
        out[name] = torch.from_numpy(value.asnumpy().copy())
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


def cmd_export(args: argparse.Namespace) -> int:
    paths = export(args.model, args.outdir, cards=args.cards, seq_length=args.seq_length,
                   batch_size=args.batch_size, lr=args.lr)
    print(f"wrote {paths['checkpoint']} (MindFormers LlamaForCausalLM parameter names)")
    print(f"wrote {paths['config']} (data parallel over {args.cards} cards: see its header for the msrun command)")
    if args.verify:
        report = verify_in_mindformers(args.outdir)
        print(f"verified: MindFormers built {report['class']} from the YAML and loaded all "
              f"{report['parameters']} parameters strictly (names and shapes)")
    return 0


def add_export(sub) -> None:
    p = sub.add_parser("export-mindformers", help="write an OLMo-1 / DataDecide model as a MindFormers Llama "
                                                  "checkpoint + msrun training YAML")
    p.add_argument("model", help="registry name, pulled hub id, or model folder")
    p.add_argument("outdir")
    p.add_argument("--cards", type=int, default=8, help="data-parallel cards in the YAML (msrun workers)")
    p.add_argument("--seq-length", type=int, default=None, help="training sequence length (default: the "
                                                                 "model's maximum)")
    p.add_argument("--batch-size", type=int, default=1, help="per-card batch size")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--verify", action="store_true", help="build MindFormers' model from the YAML and load the "
                                                         "checkpoint strictly (needs the mindformers extra)")
    p.set_defaults(func=cmd_export)


"""Export to MindFormers: a tiny DataDecide-shaped OLMo as MindFormers' Llama checkpoint + msrun YAML.

Checked three ways: the split tensors sit where Llama wants them (q | k | v, value | gate); the numbers,
through the zoo (MindFormers names -> zoo names strictly, bit-exact) and through independent Llama math
(transformers' LlamaForCausalLM built from the YAML's model_config, whose names MindFormers' own
converter maps by renaming alone); and MindFormers itself building its model from the YAML and loading
the checkpoint strictly (needs the `mindformers` extra; skipped without it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import yaml

from zoo.core.errors import CheckpointError
from zoo.export.mindformers import (
    CHECKPOINT,
    YAML,
    ExportError,
    export,
    from_mindformers,
    read_ckpt,
)
from zoo.families.olmo import tiny
from zoo.models import load_pt, resolve, zoo_state

# MindFormers' Llama names -> transformers' Llama names (the inverse of MindFormers' convert_weight renames).
TO_TRANSFORMERS = (("model.tok_embeddings.embedding_weight", "model.embed_tokens.weight"),
                   (".attention.wq.", ".self_attn.q_proj."), (".attention.wk.", ".self_attn.k_proj."),
                   (".attention.wv.", ".self_attn.v_proj."), (".attention.wo.", ".self_attn.o_proj."),
                   (".feed_forward.w1.", ".mlp.gate_proj."), (".feed_forward.w2.", ".mlp.down_proj."),
                   (".feed_forward.w3.", ".mlp.up_proj."), (".attention_norm.", ".input_layernorm."),
                   (".ffn_norm.", ".post_attention_layernorm."), ("model.norm_out.", "model.norm."))


@pytest.fixture(scope="module")
def exported(tiny_checkpoints, tmp_path_factory):
    folder = tiny_checkpoints["tiny-olmo-ladder"]
    out = tmp_path_factory.mktemp("mindformers") / "ladder"
    paths = export(folder, out, cards=2, seq_length=32)
    return resolve(folder), paths


def test_fused_tensors_split_in_llama_order(exported):
    spec, paths = exported
    zoo, mf = zoo_state(spec), read_ckpt(paths["checkpoint"])
    c = spec.config
    d, h = c.hidden_size, c.mlp_hidden_size // 2
    layer = [f"model.layers.1.{n}.weight" for n in ("attention_norm", "ffn_norm", "attention.wq", "attention.wk",
                                                    "attention.wv", "attention.wo", "feed_forward.w1",
                                                    "feed_forward.w2", "feed_forward.w3")]
    assert len(mf) == 2 * len(layer) + 3 and set(layer) <= set(mf)
    assert {"model.tok_embeddings.embedding_weight", "model.norm_out.weight", "lm_head.weight"} <= set(mf)
    att, ff = zoo["model.layers.1.attention.att_proj.weight"], zoo["model.layers.1.mlp.ff_proj.weight"]
    for name, rows in (("attention.wq", att[:d]), ("attention.wk", att[d:2 * d]), ("attention.wv", att[2 * d:]),
                       ("feed_forward.w3", ff[:h]),          # hf_olmo: value first ...
                       ("feed_forward.w1", ff[h:]),          # ... gate second; Llama: silu(w1 x) * w3 x
                       ("feed_forward.w2", zoo["model.layers.1.mlp.ff_out.weight"])):
        assert np.array_equal(mf[f"model.layers.1.{name}.weight"], rows), name


def test_yaml_describes_the_model_for_msrun_data_parallel(exported):
    spec, paths = exported
    config = yaml.safe_load(paths["config"].read_text(encoding="utf-8"))
    model = config["model"]["model_config"]
    c = spec.config
    assert config["model"]["arch"]["type"] == "LlamaForCausalLM" and config["use_legacy"] is True
    assert config["parallel"]["parallel_mode"] == 0 and config["parallel_config"]["data_parallel"] == 2
    assert config["load_checkpoint"] == str(paths["checkpoint"].resolve())
    assert (model["hidden_size"], model["num_layers"], model["num_heads"], model["n_kv_heads"],
            model["intermediate_size"], model["vocab_size"], model["rms_norm_eps"], model["theta"],
            model["seq_length"], model["tie_word_embeddings"]) == \
        (88, 2, 2, 2, 352, 128, c.norm_eps, 10000.0, 32, False)
    assert model["use_flash_attention"] is False          # head_dim 44: not a multiple of 16
    assert "msrun --worker_num=2 --local_worker_num=2" in paths["config"].read_text(encoding="utf-8")


def test_reimport_is_strict_and_bit_exact(exported):
    spec, paths = exported
    tensors = read_ckpt(paths["checkpoint"])
    back = from_mindformers(spec, tensors)
    original = zoo_state(spec)
    assert set(back) == set(original) and all(np.array_equal(back[k], original[k]) for k in original)
    broken = dict(tensors)
    broken.pop("model.layers.0.feed_forward.w1.weight")
    broken["model.layers.0.feed_forward.w4.weight"] = np.zeros(1, np.float32)
    with pytest.raises(CheckpointError) as err:
        from_mindformers(spec, broken)
    assert "model.layers.0.feed_forward.w4.weight" in str(err.value)
    assert "model.layers.0.feed_forward.w1.weight" in str(err.value)


def _llama_from_export(paths):
    """transformers' LlamaForCausalLM configured from the YAML's model_config, weights renamed from the export."""
    import transformers

    m = yaml.safe_load(paths["config"].read_text(encoding="utf-8"))["model"]["model_config"]
    config = transformers.LlamaConfig(
        vocab_size=m["vocab_size"], hidden_size=m["hidden_size"], intermediate_size=m["intermediate_size"],
        num_hidden_layers=m["num_layers"], num_attention_heads=m["num_heads"],
        num_key_value_heads=m["n_kv_heads"], max_position_embeddings=m["max_position_embedding"],
        rms_norm_eps=m["rms_norm_eps"], rope_theta=m["theta"], tie_word_embeddings=m["tie_word_embeddings"],
        attention_bias=False, mlp_bias=False, hidden_act="silu")
    state = {}
    for name, tensor in read_ckpt(paths["checkpoint"]).items():
        for old, new in TO_TRANSFORMERS:
            name = name.replace(old, new)
        state[name] = torch.from_numpy(tensor)
    model = transformers.LlamaForCausalLM(config).eval()
    model.load_state_dict(state, strict=True)
    return model, state


def test_llama_math_gives_the_original_logits(exported):
    spec, paths = exported
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, spec.config.vocab_size, (2, 24)))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        expected = load_pt(spec)(ids, mask)[0]
        llama, state = _llama_from_export(paths)
        got = llama(input_ids=ids, attention_mask=mask).logits
        assert float((got - expected).abs().max()) < 1e-4
        # negative control: gate and value swapped (the classic SwiGLU-order bug) is caught
        for i in range(spec.config.num_layers):
            gate, up = f"model.layers.{i}.mlp.gate_proj.weight", f"model.layers.{i}.mlp.up_proj.weight"
            state[gate], state[up] = state[up], state[gate]
        llama.load_state_dict(state, strict=True)
        assert float((llama(input_ids=ids, attention_mask=mask).logits - expected).abs().max()) > 1e-2


def test_what_llama_cannot_express_is_refused(tiny_checkpoints, tmp_path):
    with pytest.raises(ExportError, match="LayerNorm .mean-subtracting, without a weight.* RMSNorm"):
        export(tiny_checkpoints["tiny-olmo-tied"], tmp_path / "a")
    clipped = tiny._olmo(tmp_path / "clip", 11, d_model=64, n_heads=4, clip_qkv=2.0)
    with pytest.raises(ExportError, match="clip_qkv=2.0 clamps q, k and v"):
        export(clipped, tmp_path / "b")
    with pytest.raises(ExportError, match="the opt family is not Llama math"):
        export(tiny_checkpoints["tiny-opt-pre-ln"], tmp_path / "c")
    assert not any((tmp_path / d).exists() for d in "abc")


@pytest.mark.skipif(importlib.util.find_spec("mindformers") is None,
                    reason="mindformers is not installed (the `mindformers` extra, mindformers 1.9.0)")
def test_mindformers_builds_its_llama_from_the_yaml_and_loads_the_checkpoint_strictly(tiny_checkpoints,
                                                                                     tmp_path):
    """In a child process (MindFormers sets global MindSpore state and logs into ./output)."""
    tied = tiny._olmo(tmp_path / "tied-rms", 7, d_model=64, n_heads=4, weight_tying=True)
    script = textwrap.dedent(f"""
        import shutil, sys
        from pathlib import Path
        from zoo.cli import main
        from zoo.core.errors import CheckpointError
        from zoo.export.mindformers import verify_in_mindformers, read_ckpt, write_ckpt
        root = Path({str(tmp_path)!r})
        assert main(["export-mindformers", {str(tiny_checkpoints["tiny-olmo-ladder"])!r}, str(root / "ladder"),
                     "--cards", "2", "--seq-length", "32", "--verify"]) == 0
        print("tied", verify_in_mindformers(root / "tied") if main(["export-mindformers", {str(tied)!r},
              str(root / "tied"), "--seq-length", "32"]) == 0 else None)
        tensors = read_ckpt(root / "ladder" / {CHECKPOINT!r})
        tensors.pop("lm_head.weight")
        write_ckpt(tensors, root / "ladder" / {CHECKPOINT!r}, "float32")
        try:
            verify_in_mindformers(root / "ladder")
        except CheckpointError as err:
            print("refused:", err)
    """)
    env = {**os.environ, "GLOG_v": "3"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "verified: MindFormers built LlamaForCausalLM from the YAML and loaded all 21 parameters strictly" in out
    assert "tied {'class': 'LlamaForCausalLM', 'parameters': 20, 'checkpoint_tensors': 20}" in out
    assert "refused:" in out and "missing: lm_head.weight" in out
    assert not (tmp_path / "output").exists() and (tmp_path / "ladder" / "mindformers-output").is_dir()
    assert (tmp_path / "ladder" / YAML).is_file()


# ----------------------------------------------------------------------------------------- llama / qwen2

def _transformers_from_yaml(paths, qwen2: bool):
    """transformers' Llama (or Qwen2: q/k/v biases, none on o_proj) configured from the YAML's model_config,
    weights renamed from the export (MindFormers' own converter maps these names by renaming alone)."""
    import transformers

    m = yaml.safe_load(paths["config"].read_text(encoding="utf-8"))["model"]["model_config"]
    common = dict(vocab_size=m["vocab_size"], hidden_size=m["hidden_size"], intermediate_size=m["intermediate_size"],
                  num_hidden_layers=m["num_layers"], num_attention_heads=m["num_heads"],
                  num_key_value_heads=m["n_kv_heads"], max_position_embeddings=m["max_position_embedding"],
                  rms_norm_eps=m["rms_norm_eps"], rope_theta=m["theta"], tie_word_embeddings=m["tie_word_embeddings"])
    if m.get("extend_method") == "LLAMA3":
        common["rope_scaling"] = {"rope_type": "llama3", **m["scaling_factor"]}
    if qwen2:
        assert m["qkv_has_bias"] and not m["attn_proj_has_bias"]
        config, cls = transformers.Qwen2Config(**common), transformers.Qwen2ForCausalLM
    else:
        config = transformers.LlamaConfig(**common, attention_bias=m["qkv_has_bias"], mlp_bias=False)
        cls = transformers.LlamaForCausalLM
    state = {}
    for name, tensor in read_ckpt(paths["checkpoint"]).items():
        for old, new in TO_TRANSFORMERS:
            name = name.replace(old, new)
        state[name] = torch.from_numpy(tensor)
    model = cls(config).eval()
    model.load_state_dict(state, strict=not m["tie_word_embeddings"])
    if m["tie_word_embeddings"]:
        model.tie_weights()
    return model


@pytest.mark.parametrize(("name", "qwen2"), [("tiny-llama-gqa", False), ("tiny-qwen2", True)])
def test_llama_and_qwen2_export_gives_the_original_logits(tiny_checkpoints, tmp_path, name, qwen2):
    """GQA (n_kv_heads), tied embeddings and the llama3 scaling (Llama); q/k/v biases (Qwen2): the export read
    back through the zoo is bit-exact, and independent transformers math from the YAML gives the logits."""
    spec = resolve(tiny_checkpoints[name])
    paths = export(tiny_checkpoints[name], tmp_path / name, cards=2, seq_length=32)
    model_config = yaml.safe_load(paths["config"].read_text(encoding="utf-8"))["model"]["model_config"]
    assert model_config["n_kv_heads"] == spec.config.num_kv_heads < spec.config.num_heads
    back = from_mindformers(spec, read_ckpt(paths["checkpoint"]))
    original = zoo_state(spec)
    assert set(back) == set(original) and all(np.array_equal(back[k], original[k]) for k in original)
    ids = torch.from_numpy(np.random.default_rng(1).integers(3, spec.config.vocab_size, (2, 24)))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        expected = load_pt(spec)(ids, mask)[0]
        got = _transformers_from_yaml(paths, qwen2)(input_ids=ids, attention_mask=mask).logits
    assert float((got - expected).abs().max()) < 1e-4


def test_what_mindformers_llama_cannot_express_is_refused(tiny_checkpoints, tmp_path):
    with pytest.raises(ExportError, match="q/k RMSNorm"):
        export(tiny_checkpoints["tiny-qwen3"], tmp_path / "q3")
    with pytest.raises(ExportError, match="head_dim=16 is not hidden_size / heads"):
        export(tiny_checkpoints["tiny-llama-biases"], tmp_path / "b")
    with pytest.raises(ExportError, match="rope_scaling 'dynamic'"):
        export(tiny_checkpoints["tiny-llama-mqa"], tmp_path / "m")


@pytest.mark.skipif(importlib.util.find_spec("mindformers") is None,
                    reason="mindformers is not installed (the `mindformers` extra, mindformers 1.9.0)")
def test_mindformers_loads_the_llama_and_qwen2_exports_strictly(tiny_checkpoints, tmp_path):
    """MindFormers builds its LlamaForCausalLM from each YAML (GQA, llama3 scaling, tied; q/k/v biases) and
    loads the checkpoint strictly, in a child process."""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from zoo.cli import main
        root = Path({str(tmp_path)!r})
        for name, folder in (("llama", {str(tiny_checkpoints["tiny-llama-gqa"])!r}),
                             ("qwen2", {str(tiny_checkpoints["tiny-qwen2"])!r})):
            assert main(["export-mindformers", folder, str(root / name), "--cards", "2", "--seq-length", "32",
                         "--verify"]) == 0
    """)
    env = {**os.environ, "GLOG_v": "3"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    verified = [line for line in result.stdout.splitlines() if line.startswith("verified:")]
    assert len(verified) == 2 and all("loaded all" in line and "strictly" in line for line in verified), result.stdout

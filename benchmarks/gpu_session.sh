#!/usr/bin/env bash
# The GPU benchmark session as it was run on a lent H100 (benchmarks/METHODOLOGY.md, "GPU").
#
#   bash benchmarks/gpu_session.sh PART RESULTS_ROOT
#
# PART 1: environment, MindSpore-on-GPU probe, GEMM peaks, bf16 matrix; PARTs 2, 3: what a 10-minute call left.
# PART realistic: the H200 session's cells at sequence 2048 / decode of 128 tokens after 1024 (one call).
# The host's python3 holds a CUDA torch; the pinned transformers / hf_olmo and their needs come as
# wheels in .whl/ and as a copied site folder in .devcarry/site/ (the host has no network).
# Prepared here, both ignored by git:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       transformers==4.57.1 huggingface_hub==0.36.2 tokenizers==0.22.2 ...  (hf_olmo's imports: the
#       pins of requirements/lock.txt for boto3, datasets, cached_path, google-cloud-storage,
#       omegaconf, pydantic, cryptography and their needs)
#   .devcarry/site/: olmo, hf_olmo, olmo_core (+ dist-info) copied from .venv (ai2-olmo's wheel is
#       145 MB because of olmo_data; only olmo_data/*.py is needed to import it)
#   .devcarry/libmindspore_gpu.so.11.6.xz: the mindspore wheel's GPU plugin, for the probe's ldd
set -uo pipefail
part=${1:?PART 1 or 2}
results=${2:?results root}
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/.devcarry/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
all=distilbert-shape,datadecide-150m-shape,opt-350m-shape
matrix() {  # models, dtype, cells, backends
    python3 -m benchmarks.matrix --device gpu --models "$1" --dtype "$2" --cells "$3" --backends "$4" \
        --pt-option attn=sdpa --steps 20 --warmup 3 --results "$results" 2>&1 | grep -v -e '^\[WARN' -e Warning
}
if [ "$part" = realistic ]; then   # each matrix call capped so that one slow cell cannot eat the lease
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__)"
    python3 -c "import hf_olmo; print('hf_olmo ok')" 2>&1 | tail -n 1
    peak() {  # the GEMM roof without zoo.cli (whose parser imports the MindSpore side)
        timeout 60 python3 -c "import argparse, sys; from benchmarks.cli import cmd_bench_peak as f
f(argparse.Namespace(device='gpu', dtype=sys.argv[1], n=8192, no_save=False, results=sys.argv[2]))" "$1" "$results"
    }
    big() {  # models, cells, backends, steps, timeout
        timeout "$5" python3 -m benchmarks.matrix --device gpu --models "$1" --dtype bfloat16 --cells "$2" \
            --backends "$3" --pt-option attn=sdpa --steps "$4" --warmup 1 --new-tokens 128 --results "$results" \
            2>&1 | grep -v -e '^\[WARN' -e Warning
    }
    if [ "${3:-}" != again ]; then
        peak bfloat16; peak float32
        big opt-350m-shape forward:8x2048,train:8x2048 pt,ref,pt-compile 10 150
        big opt-350m-shape decode:1x1024 pt,ref 3 60
        big datadecide-1b-shape forward:8x2048,train:4x2048,decode:1x1024 pt,ref 5 130
        big datadecide-150m-shape forward:8x2048,train:8x2048 pt,ref 10 60
    else   # the second call of that session: what the first left (train imported MindSpore; decode ran out)
        peak bfloat16; peak float32
        big opt-350m-shape train:8x2048 pt,ref,pt-compile 5 100
        big datadecide-150m-shape train:8x2048 pt,ref 5 45
        big datadecide-1b-shape train:4x2048 pt,ref 5 50
        big opt-350m-shape,datadecide-150m-shape decode:1x1024 pt,ref 1 95
    fi
elif [ "$part" = 1 ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    python3 -c "import torch, transformers, hf_olmo; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__)"
    python3 -m benchmarks.ms_gpu_probe --plugin .devcarry/libmindspore_gpu.so.11.6.xz --results "$results" \
        | tail -n 25
    for dtype in bfloat16 float32; do
        python3 -m zoo.cli bench-peak --device gpu --dtype $dtype --n 8192 --results "$results"
    done
    matrix $all bfloat16 forward:8x128 ms-graph,pt,pt-compile,ref
    matrix $all bfloat16 train:4x128,decode:1x128,forward:1x512 pt,pt-compile,ref
elif [ "$part" = 2 ]; then   # what the first lease left (hf_olmo's import needed cryptography; time ran out)
    python3 -c "import hf_olmo, transformers; print('hf_olmo ok, transformers', transformers.__version__)" || exit 1
    matrix datadecide-150m-shape bfloat16 forward:8x128,train:4x128 pt,pt-compile,ref
    matrix datadecide-150m-shape,opt-350m-shape bfloat16 decode:1x128 pt,ref
else       # part 3: the third lease (each call is at most 10 minutes)
    matrix opt-350m-shape bfloat16 train:4x128 pt,pt-compile,ref
    matrix $all float32 forward:8x128 pt,ref
fi

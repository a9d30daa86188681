"""`mindzoo generate MODEL --prompt TEXT`: the continuation on stdout, streamed; logs on stderr.

Greedy unless --temperature is given; sampling draws from one seeded numpy generator on the host, so
MindSpore and the torch twin draw the same tokens (zoo/eval/generate.py). Exit 2 for bad input (no
tokenizer, a prompt longer than the model's context, ...), with one line naming it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np

from zoo.core.errors import InputError


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def use_chat(choice: str, model: str, spec, tokenizer) -> bool:
    """--chat on / off, or auto: the tokenizer has a chat template AND the model is named as an instruct or
    chat model (base checkpoints such as Qwen3-0.6B-Base ship templates too, and expect plain text)."""
    if choice == "on":
        return True
    if choice == "off" or tokenizer.chat_template is None:
        return False
    return re.search(r"instruct|chat", f"{model} {spec.folder}", re.IGNORECASE) is not None


def prompt_ids(args: argparse.Namespace, spec, tokenizer) -> tuple[list[int], bool]:
    chat = use_chat(args.chat, args.model, spec, tokenizer)
    if chat:
        ids = tokenizer.encode(tokenizer.render_chat(args.prompt, args.system), special_tokens=False)
    else:
        ids = tokenizer.encode(args.prompt, special_tokens=True)
    if not ids:
        raise InputError("--prompt encodes to no tokens and the tokenizer adds no BOS; give some text")
    positions = int(spec.config.max_position_embeddings)
    if len(ids) + args.max_new_tokens > positions:
        raise InputError(f"--prompt is {len(ids)} tokens; with --max-new-tokens {args.max_new_tokens} that exceeds "
                         f"the model's {positions} positions: shorten the prompt or ask for fewer tokens")
    vocab = getattr(spec.config, "vocab_size", None)
    if vocab is not None and max(ids) >= vocab:
        raise InputError(f"the tokenizer in {spec.folder} gives id {max(ids)}, past the model's vocabulary of "
                         f"{vocab}: the folder's tokenizer does not belong to this model")
    return ids, chat


def cmd_generate(args: argparse.Namespace) -> int:
    from zoo.eval.generate import Sampling, TextStream, decode, make_generator, stop_ids
    from zoo.eval.tokenizer import Tokenizer
    from zoo.models import resolve

    if args.image is not None:
        raise InputError("--image: no vision-language family (Molmo) is in the zoo yet; drop --image")
    if args.max_new_tokens < 1:
        raise InputError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    sampling = Sampling(args.temperature, args.top_k, args.top_p, args.seed)
    spec = resolve(args.model)
    if getattr(spec.config, "task", None) != "causal-lm":
        raise InputError(f"{args.model} is not a causal LM (task {getattr(spec.config, 'task', None)!r}); "
                         "generate needs one")
    tokenizer = Tokenizer.load(spec.folder)
    ids, chat = prompt_ids(args, spec, tokenizer)
    backend = "torch" if args.framework == "torch" else f"mindspore {args.mode}"
    _stderr(f"generate: {args.model} ({backend}, {len(ids)} prompt tokens, "
            f"{'chat template, ' if chat else ''}{'greedy' if sampling.greedy else f'sampling seed {args.seed}'})")
    generator = make_generator(spec, args.framework, args.mode, args.dtype)
    stops = stop_ids(spec)
    stream = TextStream(tokenizer, lambda text: (sys.stdout.write(text), sys.stdout.flush()), stops)
    started = time.perf_counter()
    out = decode(generator, np.array([ids], dtype=np.int64), np.ones((1, len(ids)), dtype=np.int64),
                 args.max_new_tokens, sampling, stops, on_step=stream)
    stream.finish()
    sys.stdout.write("\n")
    sys.stdout.flush()
    seconds = time.perf_counter() - started
    tokens = [int(t) for t in out.tokens[0]]
    ended = "EOS" if tokens and tokens[-1] in stops else "max tokens"
    _stderr(f"generate: {len(tokens)} tokens in {seconds:.2f} s (first call includes compilation), stopped at {ended}")
    if args.ids:
        _stderr("generate: token ids " + " ".join(map(str, tokens)))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="write text with a causal LM (greedy or seeded sampling), streamed")
    p.add_argument("model", help="registry name, NAME@REVISION or hub id already pulled, or model folder")
    p.add_argument("--prompt", required=True, help="the text to continue (or the user turn, with a chat template)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--temperature", type=float, default=None, help="sample at this temperature (default: greedy)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, default=None, help="sample from the smallest set with this probability")
    p.add_argument("--seed", type=int, default=0, help="seed of the host-side sampler (numpy)")
    p.add_argument("--framework", choices=["mindspore", "torch"], default="mindspore")
    p.add_argument("--mode", choices=["graph", "pynative"], default="graph", help="MindSpore execution mode")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    p.add_argument("--chat", choices=["auto", "on", "off"], default="auto",
                   help="apply the tokenizer's chat template (auto: when it has one and the model is named "
                        "instruct / chat)")
    p.add_argument("--system", default=None, help="a system turn, with the chat template")
    p.add_argument("--image", default=None, help="an image, for vision-language models (none in the zoo yet)")
    p.add_argument("--ids", action="store_true", help="also print the generated token ids on stderr")
    p.set_defaults(func=cmd_generate)

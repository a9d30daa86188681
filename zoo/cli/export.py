"""`mindzoo export-mindformers MODEL OUTDIR`: a model as a MindFormers Llama checkpoint + msrun training YAML."""

from __future__ import annotations

import argparse

from zoo.export.mindformers import export, verify_in_mindformers


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


def add_parser(sub) -> None:
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


"""`mindzoo pull`, `mindzoo revisions`, `mindzoo cache ls | rm`."""

from __future__ import annotations

from zoo.core.errors import HubError
from zoo.core.tables import render_table
from zoo.hub import cache
from zoo.hub.fetch import SOURCES, describe_size, parse_target, pull, revisions


def cmd_pull(args) -> int:
    result = pull(args.model, revision=args.revision, source=args.source, cache_dir=args.cache_dir,
                  check=not args.no_check, local_folder=args.from_folder)
    state = "downloaded" if result.downloaded else "already cached"
    print(f"{result.target.repo_id}@{result.target.revision} -> commit {result.entry.commit} ({state})")
    print(f"upstream files:  {result.folder}")
    if result.checked is not None:
        print(f"loads as:        {result.checked}")
    return 0


def cmd_revisions(args) -> int:
    from zoo import registry

    target = parse_target(args.model)
    rows = revisions(args.model)
    root = cache.cache_root(args.cache_dir)
    cached = {r.commit for r in cache.list_entries(root) if r.repo_id == target.repo_id and not r.partial}
    print(render_table(["kind", "name", "commit", "cached"],
                       [[k, n, c, "yes" if c in cached else ""] for k, n, c in rows]))
    entry = registry.get(target.name)
    scheme = getattr(entry, "revisions", "") if entry else ""
    print(f"{len(rows)} revisions of {target.repo_id}" + (f"; {scheme}" if scheme else "")
          + f"; pull one with `mindzoo pull {target.name} --revision NAME`")
    return 0


def cmd_cache(args) -> int:
    root = cache.cache_root(args.cache_dir)
    if args.cache_command == "ls":
        rows = cache.list_entries(root)
        print(render_table(
            ["source", "model", "commit", "revisions", "family", "size", "path"],
            [[r.source, r.repo_id, r.commit[:12] + (" (partial)" if r.partial else ""), ", ".join(r.revisions),
              r.family, describe_size(r.size), str(r.path)] for r in rows]))
        print(f"{len(rows)} cached commits in {root}")
        return 0
    target = parse_target(args.model)
    at_revision = args.revision or ("@" in args.model and target.revision) or None
    removed = cache.remove(root, target.repo_id, at_revision, args.source)
    if not removed:
        raise HubError(f"nothing cached for {args.model}" + (f" at {at_revision}" if at_revision else "")
                       + f" in {root}; see `mindzoo cache ls`")
    for path in removed:
        print(f"removed {path}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("pull", help="download, verify and cache a checkpoint; check that the zoo can load it")
    p.add_argument("model", help="registry name, hub id, or id@revision")
    p.add_argument("--revision", help="branch, tag or commit (default: the registry's, else main)")
    p.add_argument("--source", default="hf", choices=SOURCES,
                   help="hf: the hub or HF_ENDPOINT mirror; modelscope; local: a folder given with --from")
    p.add_argument("--from", dest="from_folder", metavar="DIR", help="the model folder for --source local")
    p.add_argument("--cache-dir", help="default: $MINDZOO_CACHE or ~/.cache/mindzoo")
    p.add_argument("--no-check", action="store_true",
                   help="only download and verify (do not refuse a config or weights no family reads)")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("revisions", help="branches and tags of a model on the hub")
    p.add_argument("model", help="registry name or hub id")
    p.add_argument("--cache-dir")
    p.set_defaults(func=cmd_revisions)

    p = sub.add_parser("cache", help="list or remove pulled checkpoints")
    cache_sub = p.add_subparsers(dest="cache_command", required=True)
    q = cache_sub.add_parser("ls", help="every cached commit")
    q.add_argument("--cache-dir")
    q.set_defaults(func=cmd_cache)
    q = cache_sub.add_parser("rm", help="remove a model's cached commits (all, or one revision's)")
    q.add_argument("model", help="registry name, hub id, or id@revision")
    q.add_argument("--revision")
    q.add_argument("--source", choices=SOURCES)
    q.add_argument("--cache-dir")
    q.set_defaults(func=cmd_cache)

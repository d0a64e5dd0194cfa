"""`transferability train`: prepare a run folder and train one network with the real caffe."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.commands import real_path
from transferability.disk import parse_size
from transferability.errors import UserError
from transferability.plan import layout
from transferability.training.runs import base_notice, check_settings, find_net, train


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train one network of the plan (resumes, never redoes)")
    p.add_argument("dataset", help="imagenet, fashion-mnist or a user's own images (under --data)")
    p.add_argument("net", metavar="GROUP/NET", help="e.g. split0/baseA, split0/A5B+, whole/random3")
    p.add_argument("--runs", type=real_path, default=Path("runs"), help="run folders' root")
    p.add_argument("--data", type=real_path, default=Path("data"), help="datasets' root")
    p.add_argument("--iters", type=int, help="shorten the solver to this many iterations")
    p.add_argument("--gpu", help="GPU id(s) for caffe -gpu; default: the CPU")
    p.add_argument("--keep-snapshots", default="2", metavar="N|all",
                   help="newest whole snapshots kept (2); 'all' keeps the paper's whole series")
    p.add_argument("--disk-margin", default="0", metavar="SIZE",
                   help="space to leave free beyond what the run writes, e.g. 50G (0)")
    p.add_argument("--check-only", action="store_true",
                   help="only check that a run folder already there was made with these settings "
                        "(and say when a transfer's base will be trained first)")
    p.add_argument("--no-wait", action="store_true",
                   help="stop with an error instead of waiting when another process trains it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.check_only:
        net = find_net(args.dataset, args.net)
        check_settings(layout.run_dir(args.runs, args.dataset, net),
                       layout.settings(args.dataset, net.key, args.iters))
        if notice := base_notice(args.runs, args.dataset, net.key, args.iters):
            print(notice, flush=True)
        return 0
    train(args.runs, args.data, args.dataset, args.net, args.iters, args.gpu or None,
          wait=not args.no_wait, keep=keep_count(args.keep_snapshots),
          disk_margin=parse_size(args.disk_margin))
    return 0


def keep_count(text: str) -> int | None:
    """KEEP_SNAPSHOTS: a count of at least 1, or 'all' (None)."""
    if text.strip().lower() == "all":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise UserError(f"KEEP_SNAPSHOTS must be a count of at least 1 or 'all', not '{text}'")
    return int(text)

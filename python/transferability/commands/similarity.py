"""`transferability similarity`: linear and RBF CKA between the study's nets, layer by layer,
beside the transfer they measured, with three claims judged."""

from __future__ import annotations

import argparse
import time

from transferability.commands import data_argument, real_path
from transferability.disk import check_writable
from transferability.errors import UserError

COMMAND = "make similarity"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "similarity", help="CKA of the study's nets layer by layer, beside the measured transfer",
        description="For split 0 and every other random split whose nets are finished: linear "
                    "and RBF CKA, at each learnable layer, between baseA and baseB, baseB and "
                    "its seed replicates, baseB and AnB, AnB+ and BnB+, baseA and AnB+ "
                    "(n = 1..7), on one fixed set of half B's validation images, with bootstrap "
                    "intervals over the images; three claims judged. Writes similarity.csv, "
                    "claims.csv, similarity.png/.pdf and findings.md.")
    p.add_argument("runs", type=real_path, metavar="RUNS", help="run folders' root")
    data_argument(p)
    p.add_argument("--dataset", default="fashion-mnist",
                   help="the study's dataset (a built-in one or your own images')")
    p.add_argument("--out", type=real_path, required=True, metavar="DIR", help="results go here")
    p.add_argument("--images", type=int, default=1000, metavar="N",
                   help="validation images compared (default 1000)")
    p.add_argument("--bootstrap", type=int, default=200, metavar="B",
                   help="bootstrap replicates of the images (default 200)")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # numpy, matplotlib and pycaffe load once the arguments are known to be good
    from transferability.factors import similarity, similarity_report

    for name, least in (("images", 4), ("bootstrap", 1)):
        if getattr(args, name) < least:
            raise UserError(f"--{name} must be at least {least}, not {getattr(args, name)}")
    start = time.perf_counter()
    similarity.check_ready(args.runs, args.data, args.dataset)
    check_writable(args.out, "--out")  # before the long work, not after it
    settings = similarity.Settings(args.images, args.bootstrap, args.seed)
    measured = similarity.measure(args.runs, args.data, args.dataset, settings)
    try:
        found, written = similarity_report.publish(measured, args.out, COMMAND,
                                                   time.perf_counter() - start)
    except OSError as err:
        raise UserError(f"cannot write the similarity's results to {args.out}: "
                        f"{err.strerror or err}; free space or give --out a writable folder") \
            from None
    for c in found:
        print(f"{c.number} {c.claim} [{c.kernel}]: {c.q} -> {c.verdict}")
    print("wrote " + ", ".join(map(str, written)))
    return 0

"""``python -m made.data``: each dataset's status, and fetching one."""

from __future__ import annotations

import argparse
import sys

from . import DATASETS, DatasetError, cache_dir, load_dataset, resolve_data_dir, status
from .mnist import STATIC_PREFIX


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m made.data", description="MADE datasets: status and download.")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="each dataset's status (nothing is downloaded); exit 1 when a file "
                                       "fails verification")
    info.add_argument("--data-dir", default=None)
    fetch = sub.add_parser("fetch", help="download (or build) and verify one dataset")
    fetch.add_argument("name", choices=sorted(DATASETS))
    fetch.add_argument("--data-dir", default=None)
    fetch.add_argument("--variant", default=None,
                       help=f"binarized_mnist: larochelle (the paper's file, default) or {STATIC_PREFIX}<N> "
                            "(rebuilt from the raw digits with seed N)")
    args = p.parse_args(argv)
    directory = resolve_data_dir(args.data_dir)
    if args.command == "info":
        print(f"data directory: {directory}\ncache: {cache_dir()}")
        rows = [("dataset", "found", "variant", "verified", "where")]
        bad = []
        for name in DATASETS:
            for s in status(name, directory):
                rows.append((s["name"], "yes" if s["found"] else "no", s["variant"], s["verified"], s["where"]))
                if not s["ok"]:
                    bad.append(s)
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]  # columns fit their text
        for row in rows:
            print("".join(f"{c:<{w}}" for c, w in zip(row, widths)) + row[4])
        for s in bad:
            print(f"error: {s['where']}: {s['verified'].lower()}: delete it and fetch it again "
                  f"(python -m made.data fetch {s['name']})", file=sys.stderr)
        return 1 if bad else 0
    try:
        ds = load_dataset(args.name, args.data_dir, download=True, variant=args.variant)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{ds.name}: {ds.variant}, train/valid/test = {len(ds.train)}/{len(ds.valid)}/{len(ds.test)} "
          f"x {ds.dim}, from {ds.source}")
    return 0

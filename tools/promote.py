"""Promote the chart versions pinned in one environment's cluster to the next.

    python -m tools.promote --from dev --to qa [--allow-skip] [--root DIR]

Only the values of versions the target already pins change; the rest of its versions.env stays
byte for byte. Promotion goes dev -> qa -> prod; skipping one needs --allow-skip, backwards never.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.gitops.cluster_tree import cluster_directory
from tools.gitops.versions import VERSIONS_FILENAME, plan_promotion, promotion_refusal
from tools.paths import REPO_ROOT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.promote", description=__doc__)
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--to", dest="target", required=True)
    parser.add_argument("--allow-skip", action="store_true", help="allow dev -> prod")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)

    refusal = promotion_refusal(args.source, args.target, args.allow_skip)
    if refusal is not None:
        print(f"refused: {refusal}", file=sys.stderr)
        return 2
    source_file = cluster_directory(args.root, args.source) / VERSIONS_FILENAME
    target_file = cluster_directory(args.root, args.target) / VERSIONS_FILENAME
    for path in (source_file, target_file):
        if not path.is_file():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    promotion = plan_promotion(source_file.read_text(), target_file.read_text())
    for key in promotion.not_pinned:
        print(f"{key}: pinned in {args.source} only; {args.target} does not run it, left out")
    if not promotion.changes:
        print(f"nothing to promote: {args.target} already pins {args.source}'s versions")
        return 0
    target_file.write_text(promotion.text)
    for change in promotion.changes:
        print(f"{args.target}: {change.key} {change.old} -> {change.new}")
    print(f"updated {target_file.relative_to(args.root.resolve())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

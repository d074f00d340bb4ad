"""Do two runs of the series reach the same verdicts? Issue 21, point 8: a verdict must not depend on which machine
trained the networks. Reads every ``tables/*.claims.json`` of two results folders (written by ``python -m cam_lib
reproduce``), matches the claims by table and wording, and prints each run's machine (the tables' ``hardware``
line: CPU model and the instruction set torch's kernels use), the verdicts that differ, and the counts:

    python bench/compare_verdicts.py RESULTS_A RESULTS_B [--json OUT]

Exits 1 when a verdict differs or a claim is in one run only, 0 when every verdict agrees. The numbers behind a
verdict may differ between runs (other kernels train other networks): only the verdicts decide the exit code; how
many claims' numbers differ is counted and printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from cam_lib.io import atomic_write_text, check_writable


def claims(folder: Path) -> dict[tuple[str, str], dict]:
    """``(table, claim) -> claim record`` of every claims file under ``folder/tables``."""
    files = sorted((folder / "tables").glob("*.claims.json"))
    if not files:
        raise SystemExit(f"{folder}: no tables/*.claims.json (is it a results folder written by reproduce?)")
    out = {}
    for path in files:
        try:
            records = json.loads(path.read_text())
        except ValueError as err:
            raise SystemExit(f"{path}: not valid JSON ({err})") from None
        for c in records:
            out[c["table"], c["claim"]] = c
    return out


def hardware(folder: Path) -> str:
    """The ``hardware`` line of the first table's header in ``folder``."""
    for path in sorted((folder / "tables").glob("*.md")):
        for line in path.read_text().splitlines():
            if line.startswith("- hardware:"):
                return line.removeprefix("- hardware:").strip()
    return "not stated"


def compare(a: Path, b: Path) -> dict:
    """The comparison of two results folders: each run's machine, the shared claims, those whose verdict differs,
    those in one run only, and the verdict counts of each run."""
    ca, cb = claims(a), claims(b)
    shared = sorted(set(ca) & set(cb))
    differ = [{"table": t, "claim": c, "a": ca[t, c]["verdict"], "b": cb[t, c]["verdict"],
               "ours_a": ca[t, c]["ours"], "ours_b": cb[t, c]["ours"]}
              for t, c in shared if ca[t, c]["verdict"] != cb[t, c]["verdict"]]
    return {"a": {"folder": str(a), "hardware": hardware(a), "verdicts": dict(Counter(ca[k]["verdict"] for k in ca))},
            "b": {"folder": str(b), "hardware": hardware(b), "verdicts": dict(Counter(cb[k]["verdict"] for k in cb))},
            "shared": len(shared), "differ": differ,
            "numbers_differ": sum(ca[k]["ours"] != cb[k]["ours"] for k in shared),
            "only_a": [f"{t}: {c}" for t, c in sorted(set(ca) - set(cb))],
            "only_b": [f"{t}: {c}" for t, c in sorted(set(cb) - set(ca))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args(argv)
    if args.json:
        check_writable(args.json, "--json")
    out = compare(args.a, args.b)
    for side in ("a", "b"):
        print(f"{side}: {out[side]['folder']} ({out[side]['hardware']}): {out[side]['verdicts']}")
    print(f"{out['shared']} claims in both runs; {len(out['differ'])} verdicts differ; "
          f"the numbers behind {out['numbers_differ']} differ")
    for d in out["differ"]:
        print(f"- {d['table']}: {d['claim']}\n    a: {d['a']} ({d['ours_a']})\n    b: {d['b']} ({d['ours_b']})")
    for side in ("only_a", "only_b"):
        for line in out[side]:
            print(f"{side}: {line}")
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=1) + "\n")
    return 1 if out["differ"] or out["only_a"] or out["only_b"] else 0


if __name__ == "__main__":
    sys.exit(main())

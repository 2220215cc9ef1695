"""Deterministic generator of the shipped sample data (and of larger sets for benchmarks).

Writes, in the original schema (corporation, lastmonth_activity, lastyear_activity,
number_of_employees, exited):
    practicedata/dataset1.csv, practicedata/dataset2.csv   the "old" regime
    sourcedata/dataset3.csv,   sourcedata/dataset4.csv     the "new" regime (drifted)
    testdata/testdata.csv                                   half old, half new
    practicedata/dataset_current.csv                        this month's activity of
                                        1,000 current clients, `exited` empty (unknown yet)

Run:  python generate_data.py                      # rewrite the shipped files
      python generate_data.py --rows 1000000 --out /tmp/big   # one large file, new regime
      python generate_data.py --sqlite clients.db   # append the source data to a SQLite
                                                    # table client_activity (--rows N: N
                                                    # generated rows instead)
      python generate_data.py --example saas        # the SaaS example's data under
                                                    # examples/saas/ (samples/saas.py)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from risk_assessment.core.common import PROJECT_DIR, write_atomic

from risk_assessment.samples import saas
from risk_assessment.samples.course import DB_TABLE, SEED, large_file, load_sqlite, shipped_files

EXAMPLES = {"saas": (saas.example_files, saas.SEED)}


def main() -> None:
    """Write the shipped files under the project, one large file with --rows, or the data
    of an example under examples/NAME/ with --example NAME."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="write one file of this many rows instead")
    parser.add_argument("--out", type=Path, help="output folder (default: the project)")
    parser.add_argument("--seed", type=int, help=f"default {SEED} (an example: its own)")
    parser.add_argument("--example", choices=sorted(EXAMPLES), help="an example's data")
    parser.add_argument("--sqlite", type=Path, help=f"append rows to table {DB_TABLE} here")
    args = parser.parse_args()
    if args.example and (args.rows or args.sqlite):
        parser.error("--example writes the example's own files: no --rows or --sqlite")
    make, seed = EXAMPLES[args.example] if args.example else (shipped_files, SEED)
    args.seed = seed if args.seed is None else args.seed
    if args.sqlite:
        if args.rows:
            text = large_file(args.rows, args.seed)
        else:
            files = shipped_files(args.seed)
            text = files["sourcedata/dataset3.csv"] + "".join(
                files["sourcedata/dataset4.csv"].splitlines(keepends=True)[1:]
            )
        print(f"appended {load_sqlite(args.sqlite, text)} rows to {args.sqlite}:{DB_TABLE}")
        return
    if args.rows:
        out = args.out or Path(".")
        path = write_atomic(out / f"generated_{args.rows}.csv", large_file(args.rows, args.seed))
        print(f"wrote {args.rows} rows to {path}")
        return
    root = args.out or (PROJECT_DIR / "examples" / args.example if args.example else PROJECT_DIR)
    for rel, text in make(args.seed).items():
        write_atomic(root / rel, text)
        print(f"wrote {root / rel} ({text.count(chr(10)) - 1} rows)")


if __name__ == "__main__":
    main()

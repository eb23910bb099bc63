#!/usr/bin/env python3
"""Pick a corpus subset that keeps the most coverage within a byte budget.

`cargo fuzz cmin` keeps every input that adds a feature, which for `scenelog_table` (whole
Parquet files of 3-7 KB) is several MB. This reads the control file of a libFuzzer merge run
with `-use_counters=0` and greedily picks inputs by new coverage edges per byte, always keeping
the hand-made `seed-*` files, until the budget is spent. Prints the chosen paths.

    T=scenelog_table; BIN=target/x86_64-unknown-linux-gnu/release/$T
    mkdir -p /tmp/empty && $BIN -merge=1 -use_counters=0 -merge_control_file=/tmp/ctl /tmp/empty corpus/$T
    python3 cmin_budget.py /tmp/ctl 560000 > /tmp/keep.txt
"""
import os
import sys


def main():
    ctl, budget = sys.argv[1], int(sys.argv[2])
    lines = open(ctl).read().split("\n")
    n = int(lines[0])
    files = lines[2 : 2 + n]
    cov = {}
    for line in lines[2 + n :]:
        parts = line.split()
        if parts and parts[0] == "COV":
            cov[int(parts[1])] = set(map(int, parts[2:]))
    size = {i: os.path.getsize(f) for i, f in enumerate(files)}
    chosen = [i for i, f in enumerate(files) if os.path.basename(f).startswith("seed-")]
    covered = set().union(*(cov.get(i, set()) for i in chosen))
    used = sum(size[i] for i in chosen)
    rest = [i for i in range(n) if i not in chosen]
    while True:
        best, score = None, 0.0
        for i in rest:
            gain = len(cov.get(i, set()) - covered)
            if gain and used + size[i] <= budget and gain / max(size[i], 1) > score:
                best, score = i, gain / max(size[i], 1)
        if best is None:
            break
        chosen.append(best)
        rest.remove(best)
        covered |= cov[best]
        used += size[best]
    total = set().union(*cov.values()) if cov else set()
    print(f"{len(chosen)} files, {used} bytes, {len(covered)}/{len(total)} edges", file=sys.stderr)
    for i in chosen:
        print(files[i])


if __name__ == "__main__":
    main()

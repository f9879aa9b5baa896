#!/usr/bin/env python3
"""Compare the suffix arrays of two indexes of the same token streams.

usage: compare_tables.py OURS_DIR THEIRS_DIR
Prints {"ranks", "differ", "ok"}: ok when every rank where the tables differ holds two
suffixes that share at least 100,000 bytes (the prefix length infini-gram's indexer sorts
by), where only the reference can be out of order. Exits 1 otherwise.
"""
import glob
import json
import os
import sys

import numpy as np

HACK = 100000


def pointers(path, n):
    raw = np.fromfile(path, dtype=np.uint8)
    size = len(raw) // n
    raw = raw.reshape(n, size).astype(np.uint64)
    return sum(raw[:, i] << np.uint64(8 * i) for i in range(size))


def main():
    ours, theirs = sys.argv[1], sys.argv[2]
    ranks = differ = 0
    ok = True
    for tok in sorted(glob.glob(os.path.join(ours, "tokenized.*"))):
        n_ = tok.rsplit(".", 1)[1]
        data = open(tok, "rb").read()
        table = os.path.join(ours, f"table.{n_}")
        ptr_bytes = max(1, -(-(len(data) - 1).bit_length() // 8))
        n = os.path.getsize(table) // ptr_bytes
        a = pointers(table, n)
        b = pointers(os.path.join(theirs, f"table.{n_}"), n)
        ranks += n
        for r in np.nonzero(a != b)[0]:
            differ += 1
            x, y = int(a[r]), int(b[r])
            if data[x:x + HACK] != data[y:y + HACK]:
                ok = False
    print(json.dumps({"ranks": ranks, "differ": differ, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

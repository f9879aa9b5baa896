#!/usr/bin/env python3
"""Build suffix arrays with infini-gram's own indexer (PyPI infini-gram 2.6.0).

usage: ref_index.py SRC_DIR DST_DIR u16|u32 [CPUS]

Copies tokenized.N and offset.N from SRC_DIR into DST_DIR and runs
`python -m infini_gram.indexing` there, which skips its tokenising step when those files
exist and writes table.N. Prints the indexer's wall time in seconds as JSON.
"""
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    src, dst, dtype = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    cpus = sys.argv[4] if len(sys.argv) > 4 else "1"  # it panics on tiny corpora with more
    os.makedirs(dst, exist_ok=True)
    shards = 0
    for path in sorted(glob.glob(os.path.join(src, "tokenized.*"))):
        n = path.rsplit(".", 1)[1]
        shutil.copy(path, os.path.join(dst, f"tokenized.{n}"))
        shutil.copy(os.path.join(src, f"offset.{n}"), os.path.join(dst, f"offset.{n}"))
        shards += 1
    with tempfile.TemporaryDirectory() as empty:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "infini_gram.indexing", "--data_dir", empty, "--save_dir", dst,
                        "--token_dtype", dtype, "--shards", str(shards), "--cpus", cpus, "--mem", os.environ.get("INFINI_GRAM_MEM_GB", "2"),
                        "--ulimit", str(resource.getrlimit(resource.RLIMIT_NOFILE)[1])],
                       check=True, stdout=subprocess.DEVNULL)
        print(json.dumps({"seconds": time.perf_counter() - t}))


if __name__ == "__main__":
    main()

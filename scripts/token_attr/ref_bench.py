#!/usr/bin/env python3
"""Time infini-gram's engine on the queries written by `token_bench` (same index).

usage: ref_bench.py INDEX_DIR QUERIES.json u16|u32
Prints a JSON object of percentiles in microseconds, like token_bench.
"""
import json
import sys
import time

from infini_gram.engine import InfiniGramEngine


def pct(us):
    us = sorted(us)
    p = lambda q: us[round((len(us) - 1) * q)]
    return {"n": len(us), "p50_us": p(0.5), "p99_us": p(0.99), "mean_us": sum(us) / len(us)}


def timed(items, f):
    for x in items:
        f(x)  # warm the page cache
    out = []
    for x in items:
        t = time.perf_counter()
        f(x)
        out.append((time.perf_counter() - t) * 1e6)
    return out


def main():
    index_dir, queries, dtype = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
    engine = InfiniGramEngine(index_dir=index_dir, eos_token_id=0, token_dtype=dtype,
                              precompute_unigram_logprobs=True)
    res = {
        "count": pct(timed(queries["count"], lambda q: engine.count(input_ids=q))),
        "infgram_prob": pct(timed(queries["infgram_prob"],
                                  lambda q: engine.infgram_prob(prompt_ids=q[:-1], cont_id=q[-1]))),
        "attribute_500": pct(timed(queries["attribute"],
                                   lambda q: engine.attribute(input_ids=q, delim_ids=[], min_len=queries["min_len"],
                                                              max_cnt=queries["max_cnt"], enforce_bow=False))),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()

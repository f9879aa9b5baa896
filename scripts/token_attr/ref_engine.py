#!/usr/bin/env python3
"""Run queries on infini-gram's reference engine (PyPI infini-gram 2.6.0) and print JSON.

Reads one JSON request on stdin:
  {"index_dir": DIR, "token_dtype": "u16"|"u32", "eos": ID, "vocab_size": N,
   "queries": [{"op": "count", "input_ids": [...]}, ...]}
and prints a JSON list with one result per query, each the engine's own dict (token-id keys
of ntd results become strings, as JSON wants). Used by the Rust interoperability tests and
by scripts/bench-token-attribution.
"""
import json
import sys
import time

from infini_gram.engine import InfiniGramEngine


def plain(x):
    """The engine's results, made JSON-friendly (AttributionSpan objects are dict-like)."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def run(engine, q):
    op = q["op"]
    if op == "count":
        return engine.count(input_ids=q["input_ids"])
    if op == "find":
        r = engine.find(input_ids=q["input_ids"])
        r["segment_by_shard"] = [list(s) for s in r["segment_by_shard"]]
        return r
    if op == "prob":
        return engine.prob(prompt_ids=q["prompt_ids"], cont_id=q["cont_id"])
    if op == "ntd":
        return engine.ntd(prompt_ids=q["prompt_ids"], max_support=q["max_support"])
    if op == "infgram_prob":
        return engine.infgram_prob(prompt_ids=q["prompt_ids"], cont_id=q["cont_id"])
    if op == "infgram_ntd":
        return engine.infgram_ntd(prompt_ids=q["prompt_ids"], max_support=q["max_support"])
    if op == "creativity":
        return engine.creativity(input_ids=q["input_ids"])
    if op == "attribute":
        r = engine.attribute(input_ids=q["input_ids"], delim_ids=q["delim_ids"], min_len=q["min_len"],
                             max_cnt=q["max_cnt"], enforce_bow=False)
        return {"spans": [dict(s, docs=[dict(d) for d in s["docs"]]) for s in r["spans"]]}
    if op == "get_doc_by_rank":
        return engine.get_doc_by_rank(s=q["s"], rank=q["rank"], max_disp_len=q["max_disp_len"])
    if op == "get_doc_by_ptr":
        return engine.get_doc_by_ptr(s=q["s"], ptr=q["ptr"], max_disp_len=q["max_disp_len"])
    if op == "get_doc_by_ix":
        return engine.get_doc_by_ix(doc_ix=q["doc_ix"], max_disp_len=q["max_disp_len"])
    raise ValueError(f"unknown op {op}")


def main():
    req = json.load(sys.stdin)
    engine = InfiniGramEngine(index_dir=req["index_dir"], eos_token_id=req["eos"],
                              vocab_size=req.get("vocab_size", 65535), token_dtype=req["token_dtype"],
                              precompute_unigram_logprobs=req.get("unigram", True))
    out = []
    timings = []
    for q in req["queries"]:
        t = time.perf_counter()
        r = run(engine, q)
        timings.append(time.perf_counter() - t)
        out.append(plain(r))
    if req.get("timings"):
        print(json.dumps({"results": out, "seconds": timings}))
    else:
        print(json.dumps(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Make a benchmark corpus from text already on the machine (no network).

usage: make_corpus.py OUT.jsonl MIN_TOKENS

Documents are source and documentation files found under ~/.cargo/registry/src and
Python's standard library, read in sorted order (so the corpus is the same on every run on
the same machine). Text is split into words, punctuation and whitespace runs; the 65,000
most frequent pieces get ids 1..65000 by frequency, the rest are hashed into
65001..65533 (u16, below the separator). One JSON line per document, with a contribution
(datanet = top-level directory number, version 1, sha256 of the file).
"""
import collections
import glob
import hashlib
import json
import os
import re
import sys
import sysconfig

PIECE = re.compile(r"\w+|\s+|[^\w\s]")


def files():
    roots = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/")))
    roots.append(sysconfig.get_paths()["stdlib"])
    for datanet, root in enumerate(roots):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".rs", ".md", ".py", ".txt", ".toml")):
                    yield datanet, os.path.join(dirpath, name)


def main():
    out_path, min_tokens = sys.argv[1], int(sys.argv[2])
    docs = []
    total = 0
    freq = collections.Counter()
    for datanet, path in files():
        try:
            with open(path, "rb") as f:
                raw = f.read()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        pieces = PIECE.findall(text)
        if not pieces:
            continue
        freq.update(pieces)
        docs.append((datanet, hashlib.sha256(raw).hexdigest(), pieces))
        total += len(pieces) + 1
        if total >= min_tokens:
            break
    vocab = {p: i + 1 for i, (p, _) in enumerate(freq.most_common(65000))}

    def tid(p):
        t = vocab.get(p)
        if t is None:
            t = 65001 + int.from_bytes(hashlib.blake2b(p.encode(), digest_size=4).digest(), "little") % 533
        return t

    with open(out_path, "w") as out:
        for datanet, digest, pieces in docs:
            line = {"token_ids": [tid(p) for p in pieces],
                    "contribution": {"datanet_id": datanet, "version": 1, "content_hash": "0x" + digest}}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(json.dumps({"documents": len(docs), "tokens": total}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Export scikit-learn's bundled tabular classification sets as CSV for the influence engine.

Each set is split 80/20 (stratified, seed 0) into <name>_train.csv and <name>_test.csv:
numeric feature columns f0..f{d-1}, an integer `label` column, and (train only) a
`contribution` column: consecutive groups of 5 training rows form one datanet contribution.
Usage: python3 scripts/influence/export_datasets.py [out_dir]
"""
import sys, os
import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../attribution-engine/data")
os.makedirs(out, exist_ok=True)
sets = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
}
for name, loader in sets.items():
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    d = X.shape[1]
    for part, XX, yy in (("train", Xtr, ytr), ("test", Xte, yte)):
        cols = [f"f{j}" for j in range(d)] + ["label"] + (["contribution"] if part == "train" else [])
        with open(os.path.join(out, f"{name}_{part}.csv"), "w") as fh:
            fh.write(",".join(cols) + "\n")
            for i, (row, lab) in enumerate(zip(XX, yy)):
                cells = [("%.6g" % v) for v in row] + [str(int(lab))]
                if part == "train":
                    cells.append(str(i // 5))
                fh.write(",".join(cells) + "\n")
    print(name, Xtr.shape, Xte.shape, len(np.unique(y)), "classes")

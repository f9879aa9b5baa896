#!/usr/bin/env python3
"""Straightforward numpy/scipy reference of the engine's LDS run (exact influence functions,
multinomial logistic regression), for the speed (and sanity) comparison in scripts/bench-influence.

Same computation as `openledger-attr lds --methods if`: standardise with training statistics;
objective mean CE + lambda/2 ||W||^2 (biases unpenalised); full model by L-BFGS to gtol 1e-9;
exact IF scores -grad f(test)^T H^-1 grad l(train) with the explicit Hessian (tiny damping for the
singular bias direction); m random subsets of size alpha*n, each retrained by L-BFGS warm-started
at the full optimum; Spearman between summed scores and retrained margins, averaged over test rows.
Prints one JSON line: {"dataset", "lds", "seconds"}.
Usage: ref_lds.py TRAIN.csv TEST.csv [--subsets 100] [--alpha 0.5] [--lambda 1e-3]
"""
import argparse, json, time
import numpy as np
from scipy.optimize import minimize
from scipy.stats import spearmanr
from scipy.special import logsumexp, softmax


def load(path):
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    li = header.index("label")
    feats = [j for j, h in enumerate(header) if h not in ("label", "contribution")]
    return data[:, feats], data[:, li].astype(int)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train"); ap.add_argument("test")
    ap.add_argument("--subsets", type=int, default=100)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--lambda", dest="lam", type=float, default=1e-3)
    a = ap.parse_args()
    t0 = time.perf_counter()
    Xtr, ytr = load(a.train)
    Xte, yte = load(a.test)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd[sd < 1e-12] = 1.0
    Xtr = (Xtr - mu) / sd
    Xte = (Xte - mu) / sd
    n, d = Xtr.shape
    K = int(ytr.max()) + 1
    lam = a.lam

    def obj(theta, X, Y):
        W = theta[: K * d].reshape(K, d); b = theta[K * d:]
        Z = X @ W.T + b
        lse = logsumexp(Z, axis=1)
        f = np.mean(lse - (Z * Y).sum(1)) + 0.5 * lam * (W * W).sum()
        G = (softmax(Z, axis=1) - Y) / X.shape[0]
        gW = G.T @ X + lam * W
        return f, np.concatenate([gW.ravel(), G.sum(0)])

    def fit(X, y, theta0):
        Y = np.eye(K)[y]
        r = minimize(obj, theta0, args=(X, Y), jac=True, method="L-BFGS-B",
                     options={"maxiter": 2000, "gtol": 1e-9, "ftol": 1e-16})
        return r.x

    def margins(theta, X, y):
        W = theta[: K * d].reshape(K, d); b = theta[K * d:]
        Z = X @ W.T + b
        zy = Z[np.arange(len(y)), y]
        Zo = Z.copy(); Zo[np.arange(len(y)), y] = -np.inf
        return zy - logsumexp(Zo, axis=1)

    theta = fit(Xtr, ytr, np.zeros(K * (d + 1)))
    W = theta[: K * d].reshape(K, d); b = theta[K * d:]
    P = softmax(Xtr @ W.T + b, axis=1)
    Xt = np.hstack([Xtr, np.ones((n, 1))])
    # Hessian in the (class, feature|bias) layout, then permuted to [W row-major, b].
    H4 = np.einsum("ia,ib,ij,il->ajbl", P, -P, Xt, Xt) / n
    for a_ in range(K):
        H4[a_, :, a_, :] += (Xt * P[:, a_:a_ + 1]).T @ Xt / n
    perm = [a_ * d + j if j < d else K * d + a_ for a_ in range(K) for j in range(d + 1)]
    p = K * (d + 1)
    H = np.zeros((p, p)); H[np.ix_(perm, perm)] = H4.reshape(p, p)
    H[np.arange(K * d), np.arange(K * d)] += lam
    H += 1e-8 * np.mean(np.diag(H)) * np.eye(p)
    # Per-example loss gradients and test margin gradients.
    Y = np.eye(K)[ytr]
    Gl = np.concatenate([((P - Y)[:, :, None] * Xtr[:, None, :]).reshape(n, K * d), P - Y], axis=1)
    Zte = Xte @ W.T + b
    Zo = Zte.copy(); Zo[np.arange(len(yte)), yte] = -np.inf
    S = softmax(Zo, axis=1)
    dm = np.eye(K)[yte] - S
    Gf = np.concatenate([(dm[:, :, None] * Xte[:, None, :]).reshape(len(yte), K * d), dm], axis=1)
    scores = -Gf @ np.linalg.solve(H, Gl.T)  # n_test x n_train
    rng = np.random.default_rng(0)
    size = int(a.alpha * n)
    subsets = [np.sort(rng.choice(n, size, replace=False)) for _ in range(a.subsets)]
    M = np.array([margins(fit(Xtr[s], ytr[s], theta), Xte, yte) for s in subsets])
    pred = np.array([scores[:, s].sum(1) for s in subsets])
    rhos = [spearmanr(pred[:, j], M[:, j])[0] for j in range(len(yte))]
    rhos = [r for r in rhos if np.isfinite(r)]
    print(json.dumps({"train": a.train, "lds": float(np.mean(rhos)), "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()

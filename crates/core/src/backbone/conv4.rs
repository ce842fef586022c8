//! The small from-scratch CNN of the one-shot literature (Vinyals et al. 2016, Snell et al.
//! 2017): four blocks of 3×3 convolution (64 channels) + batch norm + ReLU + 2×2 max-pool.
//!
//! It has no pretrained weights: it trains end to end (`lookalike train --backbone conv4`),
//! on whatever square input size the model was trained at (28, 56 or 105 px for Omniglot), so
//! it needs at least [`MIN_INPUT`] pixels a side to pool down four times. Its batch norms run
//! in training mode (batch statistics, running averages updated) while
//! [`super::Backbone::set_training`] is on, and with the running averages otherwise.
//! Weight names follow PyTorch's `nn.Sequential` of `nn.Sequential`s:
//! `blocks.B.0.weight` (convolution), `blocks.B.1.*` (batch norm).

use tch::nn::Path;
use tch::{TchError, Tensor};

use super::layers::{relu, ConvBn, ConvSpec};
use super::BackboneImpl;

/// Channels of every block, and of the pooled vector.
pub(crate) const CHANNELS: i64 = 64;
/// Blocks, each halving the size.
pub(crate) const BLOCKS: usize = 4;
/// The smallest side that survives four 2×2 max-pools (16 → 8 → 4 → 2 → 1).
pub const MIN_INPUT: i64 = 1 << BLOCKS;

/// Four conv blocks.
#[derive(Debug)]
pub struct Conv4 {
    blocks: Vec<ConvBn>,
    training: bool,
}

impl Conv4 {
    pub(crate) fn new(root: &Path) -> Self {
        let b = root / "blocks";
        let blocks = (0..BLOCKS)
            .map(|i| {
                let cin = if i == 0 { 3 } else { CHANNELS };
                let block = &b / i;
                ConvBn::new(&block / 0, &block / 1, ConvSpec::new(cin, CHANNELS, 3))
            })
            .collect();
        Conv4 {
            blocks,
            training: false,
        }
    }
}

impl BackboneImpl for Conv4 {
    fn units(&self) -> usize {
        self.blocks.len()
    }

    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor, TchError> {
        let mut x = if from == 0 {
            let size = x.size();
            if size.len() == 4 && (size[2] < MIN_INPUT || size[3] < MIN_INPUT) {
                return Err(TchError::Shape(format!(
                    "conv4 pools its input down four times and needs at least {MIN_INPUT}×{MIN_INPUT} \
                     pixels, got {}×{}",
                    size[2], size[3]
                )));
            }
            x.f_div_scalar(127.5)?.f_sub_scalar(1.0)?
        } else {
            x.shallow_clone()
        };
        for block in &self.blocks[from..to] {
            x = relu(block.forward_mode(&x, self.training)?)?;
            x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        }
        Ok(x)
    }

    fn unit_prefixes(&self, unit: usize) -> Vec<String> {
        vec![format!("blocks.{unit}.")]
    }

    fn fold(&mut self) -> Result<(), TchError> {
        self.blocks.iter_mut().try_for_each(ConvBn::fold)
    }

    fn set_training(&mut self, on: bool) -> bool {
        self.training = on;
        true
    }

    fn min_input(&self) -> i64 {
        MIN_INPUT
    }
}

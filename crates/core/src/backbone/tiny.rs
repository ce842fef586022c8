//! A four-layer CNN for fast tests: real convolutions and batch norms, 64 channels at 1/16 of
//! the input size, seeded random weights unless a file is given. Weight names follow PyTorch's
//! `nn.Sequential` (`features.0`, `features.1`, ...).

use tch::nn::Path;
use tch::{TchError, Tensor};

use super::layers::{relu, ConvBn, ConvSpec};
use super::BackboneImpl;

/// Channels of the tiny CNN's last feature map.
pub(crate) const CHANNELS: i64 = 64;

/// The test CNN.
#[derive(Debug)]
pub struct TinyCnn {
    layers: Vec<ConvBn>,
}

impl TinyCnn {
    pub(crate) fn new(root: &Path) -> Self {
        let f = root / "features";
        let widths = [3, 16, 32, 64, CHANNELS];
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                ConvBn::new(
                    &f / (3 * i),
                    &f / (3 * i + 1),
                    ConvSpec::new(w[0], w[1], 3).stride(2),
                )
            })
            .collect();
        TinyCnn { layers }
    }
}

impl BackboneImpl for TinyCnn {
    fn units(&self) -> usize {
        self.layers.len()
    }

    fn forward_units(&self, x: &Tensor, from: usize, to: usize) -> Result<Tensor, TchError> {
        let mut x = if from == 0 {
            x.f_div_scalar(127.5)?.f_sub_scalar(1.0)?
        } else {
            x.shallow_clone()
        };
        for l in &self.layers[from..to] {
            x = relu(l.forward(&x)?)?;
        }
        Ok(x)
    }

    fn unit_prefixes(&self, unit: usize) -> Vec<String> {
        vec![
            format!("features.{}.", 3 * unit),
            format!("features.{}.", 3 * unit + 1),
        ]
    }

    fn fold(&mut self) -> Result<(), TchError> {
        self.layers.iter_mut().try_for_each(ConvBn::fold)
    }
}

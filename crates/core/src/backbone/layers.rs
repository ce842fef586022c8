//! The building blocks the backbones share: convolution + batch norm, with PyTorch weight names.
//!
//! Every forward uses tch's fallible `f_` operations, so a bad tensor is an error, not a panic.

use tch::nn::{self, Init};
use tch::{TchError, Tensor};

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// The same padding on every side (PyTorch's `padding=`).
    Fixed(i64),
    /// TensorFlow's "SAME": output = ceil(input / stride); an odd total puts the extra pixel on
    /// the right and bottom. EfficientNet-Lite's stride-2 convolutions need it.
    TfSame,
}

/// A 2-d convolution followed by batch normalisation, loaded as `conv.weight` and
/// `bn.{weight,bias,running_mean,running_var}`.
///
/// For inference the batch norm can be folded into the convolution ([`ConvBn::fold`]), which
/// saves one pass over every feature map; the result is the same up to float rounding.
#[derive(Debug)]
pub(crate) struct ConvBn {
    weight: Tensor,
    kernel: i64,
    stride: i64,
    groups: i64,
    padding: Padding,
    bn_weight: Tensor,
    bn_bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    eps: f64,
    folded: Option<(Tensor, Tensor)>,
}

/// The shape of one [`ConvBn`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvSpec {
    pub cin: i64,
    pub cout: i64,
    pub kernel: i64,
    pub stride: i64,
    pub groups: i64,
    pub padding: Padding,
    pub eps: f64,
}

impl ConvSpec {
    pub fn new(cin: i64, cout: i64, kernel: i64) -> Self {
        ConvSpec {
            cin,
            cout,
            kernel,
            stride: 1,
            groups: 1,
            padding: Padding::Fixed(kernel / 2),
            eps: 1e-5,
        }
    }
    pub fn stride(mut self, s: i64) -> Self {
        self.stride = s;
        self
    }
    pub fn groups(mut self, g: i64) -> Self {
        self.groups = g;
        self
    }
    pub fn padding(mut self, p: Padding) -> Self {
        self.padding = p;
        self
    }
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl ConvBn {
    /// Declares the variables under `conv` and `bn` (PyTorch names).
    pub fn new(conv: nn::Path, bn: nn::Path, spec: ConvSpec) -> Self {
        let k = spec.kernel;
        let fan_in = (spec.cin / spec.groups) * k * k;
        let bound = (1.0 / fan_in as f64).sqrt() * 3f64.sqrt();
        let weight = conv.var(
            "weight",
            &[spec.cout, spec.cin / spec.groups, k, k],
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        let c = spec.cout;
        ConvBn {
            weight,
            kernel: k,
            stride: spec.stride,
            groups: spec.groups,
            padding: spec.padding,
            bn_weight: bn.var("weight", &[c], Init::Const(1.0)),
            bn_bias: bn.var("bias", &[c], Init::Const(0.0)),
            running_mean: bn.zeros_no_train("running_mean", &[c]),
            running_var: bn.ones_no_train("running_var", &[c]),
            eps: spec.eps,
            folded: None,
        }
    }

    /// Folds the batch norm into the convolution for inference. Call after loading weights.
    pub fn fold(&mut self) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let scale = self
            .bn_weight
            .f_div(&self.running_var.f_add_scalar(self.eps)?.f_sqrt()?)?;
        let weight = self.weight.f_mul(&scale.f_view([-1, 1, 1, 1])?)?;
        let bias = self.bn_bias.f_sub(&self.running_mean.f_mul(&scale)?)?;
        self.folded = Some((weight, bias));
        Ok(())
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.forward_mode(x, false)
    }

    /// [`ConvBn::forward`], with the batch norm in training mode when `training` (batch
    /// statistics, running averages updated with PyTorch's momentum 0.1); a folded layer
    /// always uses its folded weights.
    pub fn forward_mode(&self, x: &Tensor, training: bool) -> Result<Tensor, TchError> {
        let (padded, pad) = match self.padding {
            Padding::Fixed(p) => (None, p),
            Padding::TfSame => tf_same_pad(x, self.kernel, self.stride)?,
        };
        let x = padded.as_ref().unwrap_or(x);
        let (s, p, g) = ([self.stride; 2], [pad; 2], self.groups);
        match &self.folded {
            Some((w, b)) => x.f_conv2d(w, Some(b), s, p, [1, 1], g),
            None => x
                .f_conv2d::<&Tensor>(&self.weight, None, s, p, [1, 1], g)?
                .f_batch_norm(
                    Some(&self.bn_weight),
                    Some(&self.bn_bias),
                    Some(&self.running_mean),
                    Some(&self.running_var),
                    training,
                    0.1,
                    self.eps,
                    true,
                ),
        }
    }
}

/// Pads for TensorFlow "SAME". Returns the padded tensor when the padding is asymmetric, or the
/// symmetric amount for the convolution to apply itself.
fn tf_same_pad(x: &Tensor, kernel: i64, stride: i64) -> Result<(Option<Tensor>, i64), TchError> {
    let size = x.size();
    let total = |n: i64| (((n + stride - 1) / stride - 1) * stride + kernel - n).max(0);
    let (ph, pw) = (total(size[size.len() - 2]), total(size[size.len() - 1]));
    if ph == pw && ph % 2 == 0 {
        return Ok((None, ph / 2));
    }
    let padded = x.f_constant_pad_nd([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])?;
    Ok((Some(padded), 0))
}

/// `min(max(x, 0), 6)`, in place on a tensor the caller owns.
pub(crate) fn relu6(mut x: Tensor) -> Result<Tensor, TchError> {
    let _ = x.f_clamp_(0.0, 6.0)?;
    Ok(x)
}

/// `max(x, 0)`, in place on a tensor the caller owns.
pub(crate) fn relu(mut x: Tensor) -> Result<Tensor, TchError> {
    let _ = x.f_relu_()?;
    Ok(x)
}

//! What a drawing may undergo without becoming another character: quarter turns (as *new*
//! classes, the rotation class expansion) and Koch et al.'s small affine distortions, applied
//! online to every training batch. Never a flip: a mirrored character is often another one.

use rand::Rng;
use tch::{Kind, Tensor};

use lookalike_core::Result;

/// Koch et al. (2015)'s ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortion {
    /// Rotation, ± degrees.
    pub rotate_degrees: f64,
    /// Shear along each axis, ± (a fraction of the other coordinate).
    pub shear: f64,
    /// Scale of each axis, `[min, max]`.
    pub scale: (f64, f64),
    /// Translation along each axis, ± pixels.
    pub shift_pixels: f64,
}

impl Default for Distortion {
    fn default() -> Self {
        Distortion {
            rotate_degrees: 10.0,
            shear: 0.3,
            scale: (0.8, 1.2),
            shift_pixels: 2.0,
        }
    }
}

impl Distortion {
    /// A random affine map per image, in the normalised coordinates of `affine_grid`
    /// (`[-1, 1]` across the image): `[n, 2, 3]`, row-major.
    pub fn draw(&self, n: usize, side: i64, rng: &mut impl Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * 6);
        for _ in 0..n {
            let angle = rng
                .random_range(-self.rotate_degrees..=self.rotate_degrees)
                .to_radians();
            let (sx, sy) = (
                rng.random_range(self.scale.0..=self.scale.1),
                rng.random_range(self.scale.0..=self.scale.1),
            );
            let (hx, hy) = (
                rng.random_range(-self.shear..=self.shear),
                rng.random_range(-self.shear..=self.shear),
            );
            let unit = 2.0 / side.max(1) as f64;
            let (tx, ty) = (
                rng.random_range(-self.shift_pixels..=self.shift_pixels) * unit,
                rng.random_range(-self.shift_pixels..=self.shift_pixels) * unit,
            );
            // rotation · shear · scale.
            let (c, s) = (angle.cos(), angle.sin());
            let shear = [[1.0, hx], [hy, 1.0]];
            let scaled = [
                [shear[0][0] * sx, shear[0][1] * sy],
                [shear[1][0] * sx, shear[1][1] * sy],
            ];
            let m = [
                [
                    c * scaled[0][0] - s * scaled[1][0],
                    c * scaled[0][1] - s * scaled[1][1],
                ],
                [
                    s * scaled[0][0] + c * scaled[1][0],
                    s * scaled[0][1] + c * scaled[1][1],
                ],
            ];
            out.extend([m[0][0], m[0][1], tx, m[1][0], m[1][1], ty].map(|v| v as f32));
        }
        out
    }

    /// Applies one random distortion to each image of a float batch `[n, 3, s, s]`; the area
    /// brought in from outside repeats the border (the paper around a drawing).
    pub fn apply(&self, batch: &Tensor, rng: &mut impl Rng) -> Result<Tensor> {
        let size = batch.size();
        let theta = Tensor::from_slice(&self.draw(size[0] as usize, size[3], rng))
            .f_view([size[0], 2, 3])?
            .f_to_device(batch.device())?;
        let grid = Tensor::f_affine_grid_generator(&theta, size.as_slice(), false)?;
        // Bilinear (0), border padding (1).
        Ok(batch.f_grid_sampler(&grid, 0, 1, false)?)
    }
}

/// Turns image `i` of a `[N, 3, s, s]` uint8 table by `quarter_turns[k]` quarter turns, for
/// each requested row `rows[k]`, as a float batch.
pub fn gather_turned(table: &Tensor, rows: &[(usize, u8)]) -> Result<Tensor> {
    let mut parts = Vec::with_capacity(rows.len());
    for &(i, turns) in rows {
        let img = table.f_get(i as i64)?;
        parts.push(if turns % 4 == 0 {
            img
        } else {
            img.f_rot90(i64::from(turns % 4), [1, 2])?
        });
    }
    Ok(Tensor::f_stack(&parts, 0)?.f_to_kind(Kind::Float)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn no_distortion_is_the_identity_and_the_default_stays_in_koch_s_ranges() {
        let none = Distortion {
            rotate_degrees: 0.0,
            shear: 0.0,
            scale: (1.0, 1.0),
            shift_pixels: 0.0,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let img = Tensor::arange(3 * 8 * 8, (Kind::Float, tch::Device::Cpu)).view([1, 3, 8, 8]);
        let out = none.apply(&img, &mut rng).unwrap();
        assert!(out.allclose(&img, 1e-4, 1e-4, false));
        for m in Distortion::default().draw(200, 28, &mut rng).chunks(6) {
            let det = f64::from(m[0] * m[4] - m[1] * m[3]);
            // |det| = sx·sy·(1 − hx·hy): within 0.8²·0.91 and 1.2²·1.09.
            assert!((0.58..1.58).contains(&det), "{det}");
            assert!(m[2].abs() <= 2.0 * 2.0 / 28.0 + 1e-6 && m[5].abs() <= 4.0 / 28.0 + 1e-6);
        }
    }

    #[test]
    fn quarter_turns_rotate_the_drawing() {
        // A single bright pixel top-left turns to bottom-left (counter-clockwise in (h, w)).
        let mut px = vec![0u8; 3 * 4 * 4];
        for c in 0..3 {
            px[c * 16] = 255;
        }
        let table = Tensor::from_slice(&px).view([1, 3, 4, 4]);
        let out = gather_turned(&table, &[(0, 0), (0, 1)]).unwrap();
        assert_eq!(out.double_value(&[0, 0, 0, 0]), 255.0);
        assert_eq!(out.double_value(&[1, 0, 3, 0]), 255.0);
        assert_eq!(out.double_value(&[1, 0, 0, 0]), 0.0);
    }
}

//! A box from a heatmap, as in the CAM paper: threshold at a fraction of the maximum, keep the
//! largest 4-connected component, take its bounding box, pad it if asked.

use serde::Serialize;

/// An axis-aligned box in pixels: `x0..x1` × `y0..y1` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BBox {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl BBox {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }
}

/// How to cut a box out of a map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxOptions {
    /// Keep pixels at or above this fraction of the map's maximum (the CAM paper used 0.2).
    pub fraction: f32,
    /// Pixels added on every side, clamped to the image.
    pub padding: u32,
}

impl Default for BoxOptions {
    fn default() -> Self {
        BoxOptions {
            fraction: 0.2,
            padding: 0,
        }
    }
}

/// The box around the largest region of `heat` (row-major `width × height`) at or above
/// `fraction × max`. `None` when the map has no positive value.
pub fn box_from_map(heat: &[f32], width: u32, height: u32, options: &BoxOptions) -> Option<BBox> {
    let (w, h) = (width as usize, height as usize);
    if heat.len() != w * h || w == 0 || h == 0 {
        return None;
    }
    let max = heat
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max);
    if max <= 0.0 {
        return None;
    }
    let cut = (options.fraction.clamp(0.0, 1.0) * max).max(f32::MIN_POSITIVE);
    let on: Vec<bool> = heat.iter().map(|&v| v >= cut).collect();
    let mut seen = vec![false; w * h];
    let mut best: Option<(usize, BBox)> = None;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !on[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut count, mut b) = (0usize, [w, h, 0usize, 0usize]);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            count += 1;
            b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
            let mut visit = |j: usize| {
                if on[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if best.as_ref().is_none_or(|(c, _)| count > *c) {
            let p = options.padding as usize;
            let bbox = BBox {
                x0: b[0].saturating_sub(p) as u32,
                y0: b[1].saturating_sub(p) as u32,
                x1: (b[2] + p).min(w) as u32,
                y1: (b[3] + p).min(h) as u32,
            };
            best = Some((count, bbox));
        }
    }
    best.map(|(_, b)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_component_wins_and_padding_is_clamped() {
        // 6×4: a 1-pixel blob at (0,0) and a 3-pixel blob on the right, brighter at (5,1).
        #[rustfmt::skip]
        let heat = [
            0.9, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0, 0.5, 1.0,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.3,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.1,
        ];
        let opts = BoxOptions::default();
        let b = box_from_map(&heat, 6, 4, &opts).unwrap();
        assert_eq!(
            b,
            BBox {
                x0: 4,
                y0: 1,
                x1: 6,
                y1: 3
            }
        );
        let padded = box_from_map(&heat, 6, 4, &BoxOptions { padding: 2, ..opts }).unwrap();
        assert_eq!(
            padded,
            BBox {
                x0: 2,
                y0: 0,
                x1: 6,
                y1: 4
            }
        );
        assert_eq!(box_from_map(&[0.0; 4], 2, 2, &opts), None);
    }
}

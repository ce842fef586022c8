//! A growing graph to and from the sealed layout: laid out as a segment to seal or dump it, and
//! read back from a segment to reopen a dump or to grow a sealed segment further.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::Growing;
use crate::embedded::graph::GraphParams;
use crate::embedded::segment::search::Word;
use crate::embedded::segment::{Builder, Layout, Segment};
use crate::PointId;

impl Growing {
    /// The graph as a sealed segment holding the writes up to `seq`: each node's id, level,
    /// vector and links per level.
    pub fn to_segment(&self, seq: u64) -> Builder {
        let members: Vec<(PointId, usize)> = (0..self.len() as u32)
            .map(|n| (self.ids[n as usize], self.level(n)))
            .collect();
        let mut builder = Builder::new(self.metric, self.dim, self.m0, self.m, seq, members);
        for node in 0..self.len() as u32 {
            let layers: Vec<Vec<PointId>> = (0..=self.level(node))
                .map(|l| {
                    self.links(node, l)
                        .iter()
                        .map(|w| self.ids[w.get() as usize])
                        .collect()
                })
                .collect();
            builder.node(self.ids[node as usize], self.vector(node), &layers);
        }
        builder
    }

    /// A growing graph holding `segment`'s nodes, vectors and links as they are (node numbers
    /// too), built further with `params` (whose `M` must be the segment's).
    pub fn from_segment(segment: &Segment, params: GraphParams) -> Result<Growing, String> {
        let view = segment.view();
        let h = segment.header();
        if h.m != params.max_connections || h.m0 != 2 * params.max_connections {
            return Err(format!(
                "{} has link capacities {}/{}, the store's M is {}",
                segment.path().display(),
                h.m0,
                h.m,
                params.max_connections
            ));
        }
        let mut g = Growing::new(params, h.metric, h.dim);
        let n = h.len;
        g.ids = segment.ids().to_vec();
        g.nodes.reserve(n * g.stride);
        for node in 0..n as u32 {
            let links: Vec<u32> = view.links(node, 0).to_vec();
            g.nodes.push(AtomicU32::new(links.len() as u32));
            g.nodes.extend(links.iter().map(|&l| AtomicU32::new(l)));
            g.nodes
                .extend((links.len()..g.m0).map(|_| AtomicU32::new(0)));
            g.nodes.extend(
                view.vector(node)
                    .iter()
                    .map(|x| AtomicU32::new(x.to_bits())),
            );
            let level = view.level(node);
            let start = *g.upper_start.last().unwrap_or(&0);
            g.upper_start.push(start + level as u32);
            for l in 1..=level {
                let links: Vec<u32> = view.links(node, l).to_vec();
                g.upper.push(AtomicU32::new(links.len() as u32));
                g.upper.extend(links.iter().map(|&l| AtomicU32::new(l)));
                g.upper
                    .extend((links.len()..g.m).map(|_| AtomicU32::new(0)));
            }
            g.locks.push(Mutex::new(()));
        }
        if let Some((entry, top)) = view.entry() {
            g.entry
                .store(((top as u64) << 32) | entry as u64, Ordering::Release);
        }
        Ok(g)
    }
}

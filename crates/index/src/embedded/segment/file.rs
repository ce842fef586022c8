//! The sealed segment file: a 64-byte header, then 64-byte-aligned sections, all little-endian.
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `LKSEGMNT` |
//! | 8 | version (1), metric (0 L1, 1 L2, 2 cosine), dimension, nodes, `m0`, `m`, top level, entry node, upper lists, 0 (u32 each) |
//! | 48 | checkpoint sequence (u64): the last write-log entry the segment holds |
//! | 56 | CRC-32 of bytes 0..56, CRC-32 of every byte after the header |
//!
//! Sections: `nodes` (per node: link count, `m0` layer-0 links, the vector: `1 + m0 + dim`
//! words, so a node's links sit beside its vector), `ids` (the store's ids, u64, ascending; a
//! node is its id's rank), `upper_start` (`nodes + 1` u32), `upper` (lists of `1 + m` words:
//! count, links) and `dead` (a bitmap of the nodes already deleted when the segment was sealed).
//!
//! A segment is written to a temporary file, fsynced and renamed; opening maps it read-only
//! (memmap2), checks both CRCs and every link, so a search can never index out of bounds.

use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use memmap2::Mmap;

use crate::Metric;

const MAGIC: &[u8; 8] = b"LKSEGMNT";
/// The layout version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER: usize = 64;
const ALIGN: usize = 64;

/// The header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Distance.
    pub metric: Metric,
    /// Vector dimension.
    pub dim: usize,
    /// Nodes.
    pub len: usize,
    /// Layer-0 link capacity.
    pub m0: usize,
    /// Upper-layer link capacity.
    pub m: usize,
    /// Top level.
    pub top: usize,
    /// Entry node.
    pub entry: u32,
    /// Upper-layer lists in all.
    pub upper_lists: usize,
    /// Checkpoint sequence.
    pub seq: u64,
}

/// Byte ranges of the sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// `nodes`.
    pub nodes: (usize, usize),
    /// `ids`.
    pub ids: (usize, usize),
    /// `upper_start`.
    pub upper_start: (usize, usize),
    /// `upper`.
    pub upper: (usize, usize),
    /// `dead`.
    pub dead: (usize, usize),
}

impl Header {
    /// Words per node.
    pub fn stride(&self) -> usize {
        1 + self.m0 + self.dim
    }

    /// Where each section lies, and so the file's length (`dead.1`).
    pub fn sections(&self) -> Sections {
        let mut at = HEADER;
        let mut next = |bytes: usize| {
            let start = at.next_multiple_of(ALIGN);
            at = start + bytes;
            (start, at)
        };
        Sections {
            nodes: next(self.len * self.stride() * 4),
            ids: next(self.len * 8),
            upper_start: next((self.len + 1) * 4),
            upper: next(self.upper_lists * (1 + self.m) * 4),
            dead: next(self.len.div_ceil(64) * 8),
        }
    }

    fn encode(&self, body_crc: u32) -> [u8; HEADER] {
        let mut out = [0u8; HEADER];
        out[..8].copy_from_slice(MAGIC);
        let metric = match self.metric {
            Metric::L1 => 0u32,
            Metric::L2 => 1,
            Metric::Cosine => 2,
        };
        let fields = [
            VERSION,
            metric,
            self.dim as u32,
            self.len as u32,
            self.m0 as u32,
            self.m as u32,
            self.top as u32,
            self.entry,
            self.upper_lists as u32,
            0,
        ];
        for (i, f) in fields.iter().enumerate() {
            out[8 + 4 * i..12 + 4 * i].copy_from_slice(&f.to_le_bytes());
        }
        out[48..56].copy_from_slice(&self.seq.to_le_bytes());
        let crc = crc32fast::hash(&out[..56]);
        out[56..60].copy_from_slice(&crc.to_le_bytes());
        out[60..64].copy_from_slice(&body_crc.to_le_bytes());
        out
    }

    /// The header and the body's CRC, or what is wrong with them.
    fn decode(bytes: &[u8]) -> Result<(Header, u32), String> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err("not a sealed segment (bad magic)".into());
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
        if word(56) != crc32fast::hash(&bytes[..56]) {
            return Err("its header fails its checksum".into());
        }
        let field = |i: usize| word(8 + 4 * i);
        if field(0) != VERSION {
            return Err(format!(
                "layout version {}, this build reads {VERSION}",
                field(0)
            ));
        }
        let metric = match field(1) {
            0 => Metric::L1,
            1 => Metric::L2,
            2 => Metric::Cosine,
            other => return Err(format!("unknown metric {other}")),
        };
        let header = Header {
            metric,
            dim: field(2) as usize,
            len: field(3) as usize,
            m0: field(4) as usize,
            m: field(5) as usize,
            top: field(6) as usize,
            entry: field(7),
            upper_lists: field(8) as usize,
            seq: u64::from_le_bytes(bytes[48..56].try_into().unwrap_or_default()),
        };
        Ok((header, word(60)))
    }
}

/// Writes a segment: header, then the sections' contents, to `path` via `path.tmp`, fsynced and
/// renamed.
pub fn write(
    path: &Path,
    header: &Header,
    nodes: &[u32],
    ids: &[u64],
    upper_start: &[u32],
    upper: &[u32],
    dead: &[u64],
) -> std::io::Result<()> {
    let sections = header.sections();
    let tmp = path.with_extension("tmp");
    let file = fs::File::create(&tmp)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&[0u8; HEADER])?;
    let mut crc = crc32fast::Hasher::new();
    let mut at = HEADER;
    let parts: [(&[u8], (usize, usize)); 5] = [
        (bytemuck::cast_slice(nodes), sections.nodes),
        (bytemuck::cast_slice(ids), sections.ids),
        (bytemuck::cast_slice(upper_start), sections.upper_start),
        (bytemuck::cast_slice(upper), sections.upper),
        (bytemuck::cast_slice(dead), sections.dead),
    ];
    for (bytes, (start, end)) in parts {
        debug_assert_eq!(bytes.len(), end - start);
        let pad = vec![0u8; start - at];
        crc.update(&pad);
        out.write_all(&pad)?;
        crc.update(bytes);
        out.write_all(bytes)?;
        at = end;
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header.encode(crc.finalize()))?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// A segment file, mapped and checked.
pub struct Mapped {
    /// The mapping.
    pub map: Mmap,
    /// Its header.
    pub header: Header,
    /// Its sections.
    pub sections: Sections,
}

/// Maps `path` read-only and checks it: header, CRCs, lengths, ids ascending, links in range.
pub fn open(path: &Path) -> Result<Mapped, String> {
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is read-only and private to this store: segment files are written
    // once under a temporary name and renamed into place, never modified afterwards, and only
    // this process (which holds sled's lock on the store) deletes them, after dropping the map.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) }.map_err(|e| e.to_string())?;
    let (header, body_crc) = Header::decode(&map)?;
    let sections = header.sections();
    if map.len() != sections.dead.1 {
        return Err(format!(
            "{} bytes, its header describes {}",
            map.len(),
            sections.dead.1
        ));
    }
    if crc32fast::hash(&map[HEADER..]) != body_crc {
        return Err("its body fails its checksum".into());
    }
    let mapped = Mapped {
        map,
        header,
        sections,
    };
    mapped.validate()?;
    Ok(mapped)
}

impl Mapped {
    /// A section's bytes as `T`s (sections are 64-byte aligned in a page-aligned map).
    pub fn slice<T: bytemuck::Pod>(&self, (start, end): (usize, usize)) -> &[T] {
        bytemuck::try_cast_slice(&self.map[start..end]).unwrap_or(&[])
    }

    fn validate(&self) -> Result<(), String> {
        let h = &self.header;
        let s = &self.sections;
        let n = h.len;
        let nodes: &[u32] = self.slice(s.nodes);
        let ids: &[u64] = self.slice(s.ids);
        let upper_start: &[u32] = self.slice(s.upper_start);
        let upper: &[u32] = self.slice(s.upper);
        let dead: &[u64] = self.slice(s.dead);
        if nodes.len() != n * h.stride()
            || ids.len() != n
            || upper_start.len() != n + 1
            || upper.len() != h.upper_lists * (1 + h.m)
            || dead.len() != n.div_ceil(64)
        {
            return Err("a section is misaligned".into());
        }
        if n == 0 {
            return Ok(());
        }
        if h.entry as usize >= n || !ids.windows(2).all(|w| w[0] < w[1]) {
            return Err("bad entry node or ids out of order".into());
        }
        let links_ok = |list: &[u32], cap: usize| {
            let count = list[0] as usize;
            count <= cap && list[1..1 + count].iter().all(|&l| (l as usize) < n)
        };
        if !nodes
            .chunks_exact(h.stride())
            .all(|node| links_ok(node, h.m0))
        {
            return Err("a layer-0 link points outside the segment".into());
        }
        let starts_ok = upper_start[0] == 0
            && upper_start.windows(2).all(|w| w[0] <= w[1])
            && upper_start[n] as usize == h.upper_lists
            && upper_start
                .windows(2)
                .all(|w| ((w[1] - w[0]) as usize) <= h.top);
        if !starts_ok
            || (upper_start[h.entry as usize + 1] - upper_start[h.entry as usize]) as usize != h.top
        {
            return Err("bad upper-layer table".into());
        }
        if !upper.chunks_exact(1 + h.m).all(|list| links_ok(list, h.m)) {
            return Err("an upper-layer link points outside the segment".into());
        }
        // A link on level l leads to a node that has level l.
        let level = |node: usize| (upper_start[node + 1] - upper_start[node]) as usize;
        for (node, &first) in upper_start[..n].iter().enumerate() {
            for l in 1..=level(node) {
                let start = (first as usize + l - 1) * (1 + h.m);
                let list = &upper[start..start + 1 + h.m];
                if list[1..1 + list[0] as usize]
                    .iter()
                    .any(|&t| level(t as usize) < l)
                {
                    return Err(format!("a level-{l} link leads to a lower node"));
                }
            }
        }
        Ok(())
    }
}

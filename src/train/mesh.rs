//! The device mesh of a run and how each tensor lies on it, in MaxText's names: `data` (the
//! batch is split, the state replicated), `fsdp` (the batch is split and the state too, ZeRO/FSDP
//! style) and `tensor` (Megatron-style: attention and MLP weights split by column or row; the
//! batch is not split). One device, data parallelism and sharded state are all meshes; the step
//! program is the global one, annotated with each tensor's [`Sharding`], and XLA's SPMD
//! partitioner inserts the collectives.
//!
//! Devices are numbered data-major: partition `(d * fsdp + f) * tensor + t` sits at mesh
//! coordinates `(d, f, t)`. A [`Sharding`] names, per tensor dimension, the mesh axes that split
//! it (major first); every other axis holds a replica. On the host, [`Sharding::block`] is the
//! index range a partition holds; [`block_bytes`] and [`scatter`] move a block between a row-major
//! tensor's bytes and a block's bytes, so a checkpoint is written and read range by range.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One named axis of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshAxis {
    Data,
    Fsdp,
    Tensor,
}

impl MeshAxis {
    pub const ALL: [MeshAxis; 3] = [MeshAxis::Data, MeshAxis::Fsdp, MeshAxis::Tensor];
}

/// Axis sizes; their product is the device count. `data=1,fsdp=1,tensor=1` is one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mesh {
    pub data: usize,
    pub fsdp: usize,
    pub tensor: usize,
}

impl Default for Mesh {
    fn default() -> Self {
        Mesh::single()
    }
}

impl Mesh {
    pub fn single() -> Mesh {
        Mesh {
            data: 1,
            fsdp: 1,
            tensor: 1,
        }
    }

    pub fn data(n: usize) -> Mesh {
        Mesh {
            data: n,
            ..Mesh::single()
        }
    }

    pub fn fsdp(n: usize) -> Mesh {
        Mesh {
            fsdp: n,
            ..Mesh::single()
        }
    }

    pub fn size(&self, axis: MeshAxis) -> usize {
        match axis {
            MeshAxis::Data => self.data,
            MeshAxis::Fsdp => self.fsdp,
            MeshAxis::Tensor => self.tensor,
        }
    }

    /// Devices of the mesh.
    pub fn devices(&self) -> usize {
        self.data * self.fsdp * self.tensor
    }

    /// How many ways the batch is split (`data x fsdp`): the global batch is the per-device
    /// batch times this.
    pub fn batch_ways(&self) -> usize {
        self.data * self.fsdp
    }

    /// Mesh coordinate of `partition` along `axis`.
    pub fn coordinate(&self, partition: usize, axis: MeshAxis) -> usize {
        match axis {
            MeshAxis::Data => partition / (self.fsdp * self.tensor),
            MeshAxis::Fsdp => partition / self.tensor % self.fsdp,
            MeshAxis::Tensor => partition % self.tensor,
        }
    }

    /// Whether the state is split anywhere (an fsdp or tensor axis).
    pub fn shards_state(&self) -> bool {
        self.fsdp > 1 || self.tensor > 1
    }

    /// Parses `data=2,fsdp=2` (any subset of `data`, `fsdp`, `tensor`; absent axes are 1).
    pub fn parse(text: &str) -> std::result::Result<Mesh, String> {
        let mut mesh = Mesh::single();
        let mut seen = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, size) = part
                .split_once('=')
                .ok_or_else(|| format!("expected axis=size, got `{part}`"))?;
            let size: usize = size
                .trim()
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("axis {name} needs a size of at least 1, got `{size}`"))?;
            let name = name.trim();
            if seen.contains(&name.to_string()) {
                return Err(format!("axis {name} is given twice"));
            }
            seen.push(name.to_string());
            match name {
                "data" => mesh.data = size,
                "fsdp" => mesh.fsdp = size,
                "tensor" => mesh.tensor = size,
                other => {
                    return Err(format!(
                        "unknown mesh axis `{other}` (the axes are data, fsdp and tensor)"
                    ))
                }
            }
        }
        Ok(mesh)
    }
}

impl fmt::Display for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "data={},fsdp={},tensor={}",
            self.data, self.fsdp, self.tensor
        )
    }
}

impl Serialize for Mesh {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mesh {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Mesh::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How one tensor lies on the mesh: per dimension, the axes that split it (major first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharding {
    pub dims: Vec<Vec<MeshAxis>>,
}

impl Sharding {
    /// A full copy on every device.
    pub fn replicated(rank: usize) -> Sharding {
        Sharding {
            dims: vec![Vec::new(); rank],
        }
    }

    /// Split along `dim` by `axes` where each has more than one device (replicated otherwise).
    pub fn split(rank: usize, dim: usize, axes: &[MeshAxis], mesh: &Mesh) -> Sharding {
        let mut s = Sharding::replicated(rank);
        s.dims[dim] = axes.iter().copied().filter(|&a| mesh.size(a) > 1).collect();
        s
    }

    pub fn is_replicated(&self) -> bool {
        self.dims.iter().all(Vec::is_empty)
    }

    /// The devices along `dim`.
    fn ways(&self, dim: usize, mesh: &Mesh) -> usize {
        self.dims[dim].iter().map(|&a| mesh.size(a)).product()
    }

    /// The GSPMD annotation: `{replicated}`, or `{devices=[tiles..]ids}` with a trailing
    /// replication tile (`last_tile_dim_replicate`) over the axes that split nothing.
    pub fn annotation(&self, mesh: &Mesh) -> String {
        if self.is_replicated() || mesh.devices() == 1 {
            return "{replicated}".into();
        }
        let used: Vec<MeshAxis> = self.dims.iter().flatten().copied().collect();
        let free: Vec<MeshAxis> = MeshAxis::ALL
            .into_iter()
            .filter(|a| !used.contains(a) && mesh.size(*a) > 1)
            .collect();
        let replicas: usize = free.iter().map(|&a| mesh.size(a)).product();
        let mut tiles: Vec<usize> = (0..self.dims.len()).map(|d| self.ways(d, mesh)).collect();
        if replicas > 1 {
            tiles.push(replicas);
        }
        // the tile array in row-major order (split axes, then the replication tile's): each
        // tile index names one device
        let tile_axes: Vec<MeshAxis> = used.iter().chain(&free).copied().collect();
        let mut ids = Vec::with_capacity(mesh.devices());
        for tile in 0..mesh.devices() {
            let mut rest = tile;
            let mut coords = [0usize; 3];
            for &axis in tile_axes.iter().rev() {
                let n = mesh.size(axis);
                coords[axis_index(axis)] = rest % n;
                rest /= n;
            }
            let id = (coords[0] * mesh.fsdp + coords[1]) * mesh.tensor + coords[2];
            ids.push(id.to_string());
        }
        let dims: Vec<String> = tiles.iter().map(usize::to_string).collect();
        format!(
            "{{devices=[{}]{}{}}}",
            dims.join(","),
            ids.join(","),
            if replicas > 1 {
                " last_tile_dim_replicate"
            } else {
                ""
            }
        )
    }

    /// The index range of each dimension that `partition` holds.
    pub fn block(&self, shape: &[usize], mesh: &Mesh, partition: usize) -> Vec<Range<usize>> {
        shape
            .iter()
            .enumerate()
            .map(|(dim, &size)| {
                let mut index = 0;
                for &axis in &self.dims[dim] {
                    index = index * mesh.size(axis) + mesh.coordinate(partition, axis);
                }
                let per = size / self.ways(dim, mesh).max(1);
                index * per..(index + 1) * per
            })
            .collect()
    }
}

fn axis_index(axis: MeshAxis) -> usize {
    match axis {
        MeshAxis::Data => 0,
        MeshAxis::Fsdp => 1,
        MeshAxis::Tensor => 2,
    }
}

/// Whether `block` of a tensor of `shape` is the whole tensor.
pub fn is_whole(block: &[Range<usize>], shape: &[usize]) -> bool {
    block
        .iter()
        .zip(shape)
        .all(|(r, &n)| r.start == 0 && r.end == n)
}

/// Calls `run(whole_offset, part_offset, len)` for each contiguous byte run of `block` of a
/// row-major tensor of `shape` (`elem` bytes an element), in the block's row-major order.
fn for_each_run(
    shape: &[usize],
    block: &[Range<usize>],
    elem: usize,
    mut run: impl FnMut(usize, usize, usize),
) {
    let numel: usize = block.iter().map(|r| r.len()).product();
    if numel == 0 {
        return;
    }
    // the trailing dims a block holds whole, plus the one before them, form one run
    let mut inner = shape.len();
    while inner > 0 && is_whole(&block[inner - 1..inner], &shape[inner - 1..inner]) {
        inner -= 1;
    }
    let outer = inner.saturating_sub(1);
    let strides: Vec<usize> = (0..shape.len())
        .map(|d| shape[d + 1..].iter().product::<usize>() * elem)
        .collect();
    let len = if inner == 0 {
        numel * elem
    } else {
        block[outer].len() * strides[outer]
    };
    let mut index = vec![0usize; outer];
    for n in 0..numel * elem / len {
        let mut offset = if inner == 0 {
            0
        } else {
            block[outer].start * strides[outer]
        };
        for d in 0..outer {
            offset += (block[d].start + index[d]) * strides[d];
        }
        run(offset, n * len, len);
        for d in (0..outer).rev() {
            index[d] += 1;
            if index[d] < block[d].len() {
                break;
            }
            index[d] = 0;
        }
    }
}

fn check_sizes(
    whole: usize,
    part: usize,
    shape: &[usize],
    block: &[Range<usize>],
    elem: usize,
) -> Result<()> {
    let numel: usize = block.iter().map(|r| r.len()).product();
    let fits = block.len() == shape.len() && block.iter().zip(shape).all(|(r, &n)| r.end <= n);
    if !fits || part != numel * elem || whole != shape.iter().product::<usize>() * elem {
        return Err(Error::BufferShape(format!(
            "block {block:?} of a {shape:?} tensor: {part} and {whole} bytes do not fit"
        )));
    }
    Ok(())
}

/// Writes `part` (the row-major bytes of `block`) into its place in `whole`, touching nothing else.
pub fn scatter(
    whole: &mut [u8],
    part: &[u8],
    shape: &[usize],
    block: &[Range<usize>],
    elem: usize,
) -> Result<()> {
    check_sizes(whole.len(), part.len(), shape, block, elem)?;
    for_each_run(shape, block, elem, |w, p, len| {
        whole[w..w + len].copy_from_slice(&part[p..p + len])
    });
    Ok(())
}

/// The block of a read-only tensor (e.g. mapped from a checkpoint), reading only its bytes:
/// borrowed when it is one contiguous range, gathered into a new buffer otherwise.
pub fn block_bytes<'a>(
    whole: &'a [u8],
    shape: &[usize],
    block: &[Range<usize>],
    elem: usize,
) -> Result<Cow<'a, [u8]>> {
    let numel: usize = block.iter().map(|r| r.len()).product();
    check_sizes(whole.len(), numel * elem, shape, block, elem)?;
    if let Some(range) = contiguous(shape, block, elem) {
        return Ok(Cow::Borrowed(&whole[range]));
    }
    let mut part = Vec::with_capacity(numel * elem);
    for_each_run(shape, block, elem, |w, _, len| {
        part.extend_from_slice(&whole[w..w + len])
    });
    Ok(Cow::Owned(part))
}

/// The byte range of `block` when it is one contiguous run of the tensor's bytes.
pub fn contiguous(shape: &[usize], block: &[Range<usize>], elem: usize) -> Option<Range<usize>> {
    let mut runs = Vec::new();
    for_each_run(shape, block, elem, |w, _, len| runs.push(w..w + len));
    match runs.len() {
        0 => Some(0..0),
        1 => runs.pop(),
        _ => None,
    }
}

//! `loss_curve.png`: the logged training loss (and eval loss) against the step, drawn into an
//! RGB raster and written as a PNG with a tiny encoder (stored deflate blocks, CRC-32 and
//! Adler-32 computed here), so the image needs no extra dependency.

use std::path::Path;

use crate::{Error, Result};

const WIDTH: usize = 640;
const HEIGHT: usize = 400;
const MARGIN: usize = 40;

/// Draws `train` (blue) and `eval` (orange) `(step, loss)` series on shared axes.
pub fn write_loss_curve(path: &Path, train: &[(f64, f64)], eval: &[(f64, f64)]) -> Result<()> {
    let mut img = vec![255u8; WIDTH * HEIGHT * 3];
    let all: Vec<&(f64, f64)> = train
        .iter()
        .chain(eval)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (x0, x1) = bounds(all.iter().map(|p| p.0));
    let (y0, y1) = bounds(all.iter().map(|p| p.1));
    let to_px = |(x, y): (f64, f64)| -> (f64, f64) {
        let px = MARGIN as f64 + (x - x0) / (x1 - x0) * (WIDTH - 2 * MARGIN) as f64;
        let py = (HEIGHT - MARGIN) as f64 - (y - y0) / (y1 - y0) * (HEIGHT - 2 * MARGIN) as f64;
        (px, py)
    };
    // axes
    let gray = [96, 96, 96];
    line(
        &mut img,
        (MARGIN as f64, MARGIN as f64),
        (MARGIN as f64, (HEIGHT - MARGIN) as f64),
        gray,
    );
    line(
        &mut img,
        (MARGIN as f64, (HEIGHT - MARGIN) as f64),
        ((WIDTH - MARGIN) as f64, (HEIGHT - MARGIN) as f64),
        gray,
    );
    for (series, color) in [(train, [31, 119, 180]), (eval, [255, 127, 14])] {
        let points: Vec<(f64, f64)> = series
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&p| to_px(p))
            .collect();
        for pair in points.windows(2) {
            line(&mut img, pair[0], pair[1], color);
        }
        for &p in &points {
            dot(&mut img, p, color);
        }
    }
    std::fs::write(path, encode_png(&img, WIDTH, HEIGHT))
        .map_err(|e| Error::io("cannot write the loss curve", path, e))
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

fn put(img: &mut [u8], x: i64, y: i64, color: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as usize) < WIDTH && (y as usize) < HEIGHT {
        let i = (y as usize * WIDTH + x as usize) * 3;
        img[i..i + 3].copy_from_slice(&color);
    }
}

fn line(img: &mut [u8], a: (f64, f64), b: (f64, f64), color: [u8; 3]) {
    let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        put(img, x.round() as i64, y.round() as i64, color);
        put(img, x.round() as i64, y.round() as i64 + 1, color);
    }
}

fn dot(img: &mut [u8], p: (f64, f64), color: [u8; 3]) {
    for dy in -2..=2 {
        for dx in -2..=2 {
            put(img, p.0.round() as i64 + dx, p.1.round() as i64 + dy, color);
        }
    }
}

/// A PNG of an 8-bit RGB raster (row-major, no padding).
pub fn encode_png(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width * 3 + 1) * height);
    for row in rgb.chunks(width * 3) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

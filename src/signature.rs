//! Model signatures: a 64-bit fingerprint of a model's layer kinds and widths, computed at
//! compile time, so that saved weights load only into a model of the same structure.

/// FNV-1a (64 bits) of `bytes`, continued from `hash`.
const fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The FNV-1a offset basis: the hash of nothing.
const BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// The signature of a layer: its kind's name and its dimensions (widths, or any constant that
/// changes the meaning of its stored values), each dimension as 8 little-endian bytes.
///
/// Layers with the same stored values and meaning share a signature (a [`Frozen`](crate::Frozen)
/// layer has its inner layer's), so weights trained with one load into the other.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Params, layer_signature};
///
/// assert_eq!(<Linear<64, 32>>::SIGNATURE, layer_signature("Linear", &[64, 32]));
/// assert_ne!(<Linear<64, 32>>::SIGNATURE, <Linear<32, 64>>::SIGNATURE);
/// ```
pub const fn layer_signature(kind: &str, dims: &[u64]) -> u64 {
    let mut h = fnv(BASIS, kind.as_bytes());
    let mut i = 0;
    while i < dims.len() {
        h = fnv(h, &dims[i].to_le_bytes());
        i += 1;
    }
    h
}

/// The signature of a sequence of layers: their signatures in order, hashed.
pub const fn sequence_signature(parts: &[u64]) -> u64 {
    let mut h = fnv(BASIS, b"Sequence");
    let mut i = 0;
    while i < parts.len() {
        h = fnv(h, &parts[i].to_le_bytes());
        i += 1;
    }
    h
}

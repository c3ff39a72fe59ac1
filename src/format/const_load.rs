//! Models built from a weights blob at compile time: a pretrained model in flash, verified
//! before it can be used, with no RAM copy of its parameters.
//!
//! [`const_model!`](crate::const_model) turns the bytes of a [`save_weights`](crate::save_weights)
//! blob (typically `include_bytes!`) into a model value in a `const` or `static` initializer:
//!
//! ```
//! use constnn::{Linear, Module, Relu, const_model, weights_len};
//! # use constnn::{Params, Zeroed, save_weights, rand_core::SeedableRng};
//!
//! type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
//! # const LEN: usize = weights_len::<Mlp>();
//! # // In a firmware: `static BLOB: [u8; LEN] = *include_bytes!("mlp.cnnw");`
//! # const BLOB: [u8; LEN] = constnn::format::const_load::example_blob::<LEN>();
//! static MODEL: Mlp = const_model!(&BLOB => (Linear, Relu, Linear));
//!
//! let y = MODEL.forward(&[[1.0, 2.0, 3.0, 4.0]]);
//! # let mut model = Mlp::ZERO;
//! # constnn::load_weights(&mut model, &BLOB)?;
//! # assert_eq!(y, model.forward(&[[1.0, 2.0, 3.0, 4.0]]));
//! # Ok::<(), constnn::Error>(())
//! ```
//!
//! # What is checked, and when
//!
//! The blob is checked completely during constant evaluation: magic, format version, dtype,
//! flags, lengths and CRC-32 by [`ConstWeights::new`], then, once the model is built, its
//! signature ([`Params::SIGNATURE`] of the `static`'s type, so another structure with the same
//! parameter count is refused) and that every stored value was used, by
//! [`ConstWeights::finish`]. Any failure is a panic in a constant, which is a **compile
//! error** naming the check, e.g. `the weights blob's CRC-32 does not match its bytes`. A
//! firmware whose model was corrupted, truncated or trained for another shape does not build.
//!
//! # No RAM copy
//!
//! The model is an ordinary `static` whose value the compiler computed: it is in `.rodata`
//! (flash), not `.data`, and no code runs to build it at reset. Inference needs only `&self`
//! ([`Module::forward`](crate::Module::forward)), so `MODEL.forward(&x)` reads the weights
//! where they are. Used as the body of a larger model, the reference itself is a layer:
//! `&L` implements [`Module`](crate::Module) whenever `L` does. `examples/cortex-m`'s fine-tuning firmware keeps
//! its pretrained body like this and checks with `llvm-nm` that it is in flash.
//!
//! # Why this design
//!
//! On stable Rust a `const fn` cannot call trait methods, so a generic
//! `const fn load<M: Params>(bytes) -> M` cannot walk a model through [`Params::visit_mut`].
//! It can read associated consts ([`Params::SIGNATURE`], [`Params::NUM_STORED`]) and call
//! inherent `const fn`s. So each layer kind with stored values has an inherent `const fn
//! from_weights(&mut ConstWeights) -> Self` ([`Linear`], [`BatchNorm1d`]; [`Relu`],
//! [`Sigmoid`] and [`Tanh`] read nothing) that takes its values, in [`Params::visit`]'s
//! order, from a verified [`ConstWeights`]; the macro writes the model's structure as nested
//! calls (their widths are inferred from the `static`'s type) and hands the result to
//! [`ConstWeights::finish`], whose generic type is the model's, for the signature check. The
//! layers are read in the order they are written, which is the order of the tuple, so the
//! values cannot be assigned to the wrong layer.
//!
//! Why not a `Frozen<&'static L>` layer inside a trainable model: training a model calls
//! [`Backward::forward_train`](crate::Backward::forward_train) with `&mut self` on every layer
//! (batch norm and dropout update state there) and loading one writes every stored value
//! through [`Params::visit_mut`], neither of which a shared reference into flash allows. The
//! borrowed body is therefore an inference-only layer (`&L: Module`), and a head is trained on
//! its outputs; `examples/cortex-m`'s host test checks that this gives the bits of training
//! `(Frozen<Body>, Head)` on the images.
//!
//! # At run time
//!
//! Every function here is an ordinary function too. For a blob found in flash at run time (a
//! sector written by an earlier boot), [`ConstWeights::verify`] returns the first error as a
//! [`Error`] instead of panicking, and its checks are those of
//! [`load_weights`](crate::load_weights) (the tests compare both on every corruption), without
//! copying anything: the values stay in the borrowed bytes until a layer reads them.

use super::Dtype;
use super::container::{
    Blob, CRC_LEN, Expect, HEADER_LEN, MAGIC, OFFSET_DTYPE, OFFSET_PAYLOAD_LEN, OFFSET_SIGNATURE,
    OFFSET_VERSION, VERSION,
};
use super::crc32::Crc32;
use crate::error::Error;
use crate::layers::{BatchNorm1d, Linear, Relu, Sigmoid, Tanh};
use crate::module::Params;

/// The stored values of a verified weights blob, read one after the other by the layers'
/// `from_weights` constructors.
///
/// Made by [`new`](Self::new) (compile time: an invalid blob is a compile error) or
/// [`verify`](Self::verify) (run time: an [`Error`]). It borrows the blob: nothing is copied
/// until a value is read.
///
/// # Examples
///
/// ```
/// use constnn::format::ConstWeights;
/// use constnn::{Linear, Params};
/// # const BLOB: [u8; constnn::weights_len::<Linear<2, 1>>()] =
/// #     constnn::format::const_load::example_blob();
///
/// // Run time: a blob found in flash, checked for `Linear<2, 1>`, read in place.
/// let mut w = ConstWeights::verify::<Linear<2, 1>>(&BLOB)?;
/// assert_eq!(w.remaining(), 3);
/// let layer = Linear::from_weights(&mut w);
/// let layer: Linear<2, 1> = w.finish(layer);
/// # let mut other = Linear::<2, 1>::ZERO;
/// # constnn::load_weights(&mut other, &BLOB)?;
/// # assert_eq!(layer, other);
/// # Ok::<(), constnn::Error>(())
/// ```
///
/// It is not `Copy`: a copy would restart from where it was copied, and
/// `w.finish(Linear::from_weights(&mut w))` would check a copy taken before the read (as it
/// is, that does not compile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstWeights<'a> {
    /// The stored values, `f32` little-endian.
    payload: &'a [u8],
    /// The signature the blob declares.
    signature: u64,
    /// The next value's index; may pass the end (reads there give 0, `finish` fails).
    next: usize,
}

impl<'a> ConstWeights<'a> {
    /// Checks `bytes` as a weights blob of any model (magic, version, dtype, flags, lengths,
    /// CRC-32) and returns its values, for a `const` or `static` initializer. The model's
    /// signature is checked by [`finish`](Self::finish). A checkpoint is accepted (its
    /// optimizer state is skipped).
    ///
    /// # Panics
    ///
    /// If the blob is invalid, with a message naming the first failed check: in a constant,
    /// a compile error. At run time use [`verify`](Self::verify).
    pub const fn new(bytes: &'a [u8]) -> Self {
        match check(bytes, None) {
            Ok(w) => w,
            Err(e) => panic!("{}", message(e)),
        }
    }

    /// Checks `bytes` as the weights blob of model `M` (everything [`new`](Self::new) and
    /// [`finish`](Self::finish) check about the blob: container, signature, parameter count)
    /// and returns its values, borrowed. The checks and their order are those of
    /// [`load_weights`](crate::load_weights).
    ///
    /// # Errors
    ///
    /// The first check that fails, as [`load_weights`](crate::load_weights) reports it:
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::WrongDtype`], [`Error::SignatureMismatch`], [`Error::ChecksumMismatch`], ….
    pub const fn verify<M: Params>(bytes: &'a [u8]) -> Result<Self, Error> {
        check(bytes, Some((M::SIGNATURE, M::NUM_STORED)))
    }

    /// The signature the blob declares.
    pub const fn signature(&self) -> u64 {
        self.signature
    }

    /// How many values are left to read.
    pub const fn remaining(&self) -> usize {
        (self.payload.len() / 4).saturating_sub(self.next)
    }

    /// The next stored value. Past the last one it returns 0 and counts the read, so that
    /// [`finish`](Self::finish) reports the model as too large for the blob.
    pub const fn next_f32(&mut self) -> f32 {
        let at = self.next;
        self.next = self.next.saturating_add(1);
        if at >= self.payload.len() / 4 {
            return 0.0;
        }
        let b = self.payload;
        let i = 4 * at;
        f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    /// Fills `out` with the next values, in order.
    pub const fn fill(&mut self, out: &mut [f32]) {
        let mut i = 0;
        while i < out.len() {
            out[i] = self.next_f32();
            i += 1;
        }
    }

    /// Checks that `model` is the blob's model, all of it, and returns it: its signature is
    /// the blob's and it read exactly the blob's values.
    ///
    /// # Panics
    ///
    /// If the signature differs or the model read fewer or more values than the blob has (a
    /// model of another structure): in a constant, a compile error. [`verify`](Self::verify)
    /// already checked both for its `M`, so with the same `M` this never panics.
    pub const fn finish<M: Params>(self, model: M) -> M {
        if M::SIGNATURE != self.signature {
            panic!("the weights blob is of another model: its signature is not the model's");
        }
        if self.next != self.payload.len() / 4 || M::NUM_STORED != self.next {
            panic!("the weights blob holds another number of values than the model");
        }
        model
    }
}

/// The checks of [`Blob::parse`](super::container::Blob::parse) for a weights blob
/// (`state_floats` = `None`): the container's own `const fn`, so both run the same checks in
/// the same order. `expect`: the signature and number of values of the model, or `None` for
/// any `f32` model.
const fn check(bytes: &[u8], expect: Option<(u64, usize)>) -> Result<ConstWeights<'_>, Error> {
    let expect = match expect {
        Some((signature, floats)) => Some(Expect {
            dtype: Dtype::F32,
            signature,
            payload_values: floats,
            state_floats: None,
        }),
        None => None,
    };
    let blob = match Blob::parse_with(bytes, expect) {
        Ok(blob) => blob,
        Err(e) => return Err(e),
    };
    // Without a model to expect, the container also accepts int8 blobs: weights are `f32`.
    if blob.dtype().code() != Dtype::F32.code() {
        return Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: blob.dtype(),
        });
    }
    Ok(ConstWeights {
        payload: blob.payload_bytes(),
        signature: blob.signature(),
        next: 0,
    })
}

/// The compile error's text for each way a blob can be wrong (a constant's panic message
/// must be a `&str`: formatting the numbers is not possible in `const` code).
const fn message(e: Error) -> &'static str {
    match e {
        Error::BadMagic => "the weights blob does not start with the magic b\"CNNW\"",
        Error::UnsupportedVersion { .. } => "the weights blob has an unsupported format version",
        Error::Truncated { .. } => "the weights blob is truncated",
        Error::WrongDtype { .. } => "the weights blob is not of f32 values",
        Error::UnknownDtype { .. } => "the weights blob has an unknown dtype code",
        Error::UnknownFlags { .. } => "the weights blob has unknown flags",
        Error::MalformedHeader { .. } => "the weights blob's header is malformed",
        Error::StateLengthMismatch { .. } => {
            "the weights blob declares an optimizer state but is not a checkpoint"
        }
        Error::TrailingBytes { .. } => "the weights blob has bytes after its checksum",
        Error::ChecksumMismatch { .. } => "the weights blob's CRC-32 does not match its bytes",
        _ => "the weights blob is invalid",
    }
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// The layer stored next in `weights` (its `IN·OUT` weights row by row, then its `OUT`
    /// biases: [`Params::visit`]'s order), in a `const` context too (see
    /// [`const_model!`](crate::const_model)).
    pub const fn from_weights(weights: &mut ConstWeights<'_>) -> Self {
        let mut layer = Self::ZERO;
        let mut i = 0;
        while i < IN {
            weights.fill(&mut layer.weight[i]);
            i += 1;
        }
        weights.fill(&mut layer.bias);
        layer
    }
}

impl<const N: usize> BatchNorm1d<N> {
    /// The layer stored next in `weights` (`γ`, `β`, running mean, running variance:
    /// [`Params::visit`]'s order), with the defaults of [`BatchNorm1d::new`] for what a blob
    /// does not store (`eps`, momentum, evaluation mode; chain `with_eps` and co. to change
    /// them).
    pub const fn from_weights(weights: &mut ConstWeights<'_>) -> Self {
        let mut layer = Self::new();
        weights.fill(&mut layer.gamma);
        weights.fill(&mut layer.beta);
        weights.fill(&mut layer.running_mean);
        weights.fill(&mut layer.running_var);
        layer
    }
}

macro_rules! stateless_from_weights {
    ($($L:ident),*) => {$(
        impl $L {
            /// The layer (it stores nothing, so it reads nothing): the form
            /// [`const_model!`](crate::const_model) calls for every layer.
            pub const fn from_weights(_: &mut ConstWeights<'_>) -> Self {
                $L
            }
        }
    )*};
}

stateless_from_weights!(Relu, Sigmoid, Tanh);

/// Builds a model from a weights blob at compile time: `const_model!(BYTES => (Layer, …))`.
///
/// `BYTES` is a `&[u8]` constant expression (`include_bytes!("model.cnnw")`, or `&BLOB` of a
/// `static BLOB: [u8; N]`); the layer list mirrors the model's type, each element being
///
/// - the name of a layer type with a `from_weights` constructor (`Linear`, `BatchNorm1d`,
///   `Relu`, `Sigmoid`, `Tanh`): its widths come from the type the value is assigned to;
/// - `Frozen(element)`: a [`Frozen`](crate::Frozen) layer (it stores what it wraps);
/// - `(element, …)`: a nested tuple;
/// - `{ expr }`: a layer with no stored values, given as a constant expression (e.g. a
///   `LeakyRelu` with its slope).
///
/// The result is checked by [`ConstWeights::new`] and [`ConstWeights::finish`]; an invalid
/// blob or one of another model is a compile error in a `const` or `static`.
///
/// # Examples
///
/// The blob is checked at compile time: the same blob with one byte changed does not compile.
///
/// ```
/// use constnn::{Linear, Relu, const_model};
/// # const fn blob() -> [u8; 44] { constnn::format::const_load::example_blob() }
/// const BLOB: [u8; 44] = blob(); // a (Linear<1, 1>, Relu): weight 0.5, bias -2
/// const FLIP: usize = 0; // the byte to corrupt: none
/// const BYTES: [u8; 44] = {
///     let mut b = BLOB;
///     b[40] ^= FLIP as u8;
///     b
/// };
/// static LAYER: (Linear<1, 1>, Relu) = const_model!(&BYTES => (Linear, Relu));
/// assert_eq!(LAYER.0.weight, [[0.5]]);
/// ```
///
/// ```compile_fail
/// use constnn::{Linear, Relu, const_model};
/// # const fn blob() -> [u8; 44] { constnn::format::const_load::example_blob() }
/// const BLOB: [u8; 44] = blob(); // a (Linear<1, 1>, Relu): weight 0.5, bias -2
/// const FLIP: usize = 1; // the byte to corrupt: one bit of the checksum
/// const BYTES: [u8; 44] = {
///     let mut b = BLOB;
///     b[40] ^= FLIP as u8;
///     b
/// };
/// static LAYER: (Linear<1, 1>, Relu) = const_model!(&BYTES => (Linear, Relu));
/// assert_eq!(LAYER.0.weight, [[0.5]]);
/// ```
///
/// A valid blob of another model with the same values (its signature differs) does not
/// compile either:
///
/// ```
/// use constnn::{Linear, Relu, Tanh, const_model};
/// # const fn blob() -> [u8; 44] { constnn::format::const_load::example_blob() }
/// const BLOB: [u8; 44] = blob(); // a (Linear<1, 1>, Relu)
/// static MODEL: (Linear<1, 1>, Relu) = const_model!(&BLOB => (Linear, Relu));
/// ```
///
/// ```compile_fail
/// use constnn::{Linear, Relu, Tanh, const_model};
/// # const fn blob() -> [u8; 44] { constnn::format::const_load::example_blob() }
/// const BLOB: [u8; 44] = blob(); // a (Linear<1, 1>, Relu)
/// static MODEL: (Linear<1, 1>, Tanh) = const_model!(&BLOB => (Linear, Tanh));
/// ```
#[macro_export]
macro_rules! const_model {
    ($bytes:expr => $($model:tt)+) => {{
        let mut weights = $crate::format::ConstWeights::new($bytes);
        let model = $crate::const_model!(@layer weights; $($model)+);
        weights.finish(model)
    }};
    (@layer $w:ident; Frozen($($inner:tt)+)) => {
        $crate::Frozen($crate::const_model!(@layer $w; $($inner)+))
    };
    (@layer $w:ident; ($($inner:tt)+)) => {
        $crate::const_model!(@tuple $w; []; $($inner)+)
    };
    (@layer $w:ident; { $e:expr }) => { $e };
    (@layer $w:ident; $l:ident) => { $l::from_weights(&mut $w) };
    // A tuple: one element at a time, up to the next comma, in order.
    (@tuple $w:ident; [$($done:expr,)*];) => { ($($done,)*) };
    (@tuple $w:ident; [$($done:expr,)*]; Frozen($($inner:tt)+) $(, $($rest:tt)*)?) => {
        $crate::const_model!(@tuple $w;
            [$($done,)* $crate::const_model!(@layer $w; Frozen($($inner)+)),]; $($($rest)*)?)
    };
    (@tuple $w:ident; [$($done:expr,)*]; $first:tt $(, $($rest:tt)*)?) => {
        $crate::const_model!(@tuple $w;
            [$($done,)* $crate::const_model!(@layer $w; $first),]; $($($rest)*)?)
    };
}

/// A valid blob for the documentation's examples, which have no file to include: by its
/// length `N`, of `(Linear<1, 1>, Relu)` (weight 0.5, bias -2), `Linear<2, 1>` or
/// `(Linear<4, 8>, Relu, Linear<8, 3>)` (deterministic pseudo-random values).
#[doc(hidden)]
pub const fn example_blob<const N: usize>() -> [u8; N] {
    type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
    let floats = (N - HEADER_LEN - CRC_LEN) / 4;
    let signature = if floats == 2 {
        <(Linear<1, 1>, Relu) as Params>::SIGNATURE
    } else if floats == 3 {
        <Linear<2, 1> as Params>::SIGNATURE
    } else {
        <Mlp as Params>::SIGNATURE
    };
    let mut b = [0u8; N];
    let mut i = 0;
    while i < 4 {
        b[i] = MAGIC[i];
        i += 1;
    }
    b[OFFSET_VERSION] = VERSION.to_le_bytes()[0];
    b[OFFSET_VERSION + 1] = VERSION.to_le_bytes()[1];
    b[OFFSET_DTYPE] = Dtype::F32.code();
    let sig = signature.to_le_bytes();
    let len = ((4 * floats) as u32).to_le_bytes();
    let mut i = 0;
    while i < 8 {
        b[OFFSET_SIGNATURE + i] = sig[i];
        if i < 4 {
            b[OFFSET_PAYLOAD_LEN + i] = len[i];
        }
        i += 1;
    }
    let mut k = 0;
    let mut x: u32 = 0x9E37_79B9;
    while k < floats {
        let v = if floats == 2 {
            if k == 0 { 0.5f32 } else { -2.0 }
        } else {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let bytes = v.to_le_bytes();
        let mut j = 0;
        while j < 4 {
            b[HEADER_LEN + 4 * k + j] = bytes[j];
            j += 1;
        }
        k += 1;
    }
    let (covered, _) = b.split_at(N - CRC_LEN);
    let crc = Crc32::new().update(covered).finish().to_le_bytes();
    let mut j = 0;
    while j < 4 {
        b[N - CRC_LEN + j] = crc[j];
        j += 1;
    }
    b
}

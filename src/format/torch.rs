//! PyTorch `state_dict`s in and out: a constnn model read from, and written as, the
//! `safetensors` file that `safetensors.torch.save_file(model.state_dict(), …)` writes and
//! `model.load_state_dict(safetensors.torch.load_file(…), strict=True)` reads.
//!
//! Every layer names its tensors as the matching `torch.nn` module does ([`StateDict`]):
//!
//! | constnn | PyTorch | keys (shape) |
//! |---|---|---|
//! | [`Linear<IN, OUT>`](crate::Linear) | `nn.Linear(IN, OUT)` | `weight` `[OUT, IN]` (the transpose of constnn's `weight[i][o]`), `bias` `[OUT]` |
//! | [`BatchNorm1d<N>`](crate::BatchNorm1d) | `nn.BatchNorm1d(N)` | `weight` (`γ`), `bias` (`β`), `running_mean`, `running_var` `[N]`; `num_batches_tracked` (`I64`, shape `[]`) |
//! | [`Relu`], [`Tanh`], [`Sigmoid`], [`LeakyRelu`], [`Dropout`] | `nn.ReLU()`, … | none |
//! | [`Frozen<L>`](crate::Frozen) | (`requires_grad_(False)`) | `L`'s |
//! | a tuple `(A, B, …)` | `nn.Sequential(A, B, …)` | element `k`'s keys prefixed `k.` (nested: `k.j.`) |
//! | a [`sequential!`](crate::sequential) struct | a `Module` with named submodules | field `f`'s keys prefixed `f.` |
//!
//! So `(Linear<4, 8>, Relu, Linear<8, 3>)` is `nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
//! nn.Linear(8, 3))`: keys `0.weight`, `0.bias`, `2.weight`, `2.bias`. A model that sits
//! under a name in a bigger PyTorch module (`net.0.weight`, …) takes a global prefix
//! ([`load_safetensors_with`], [`save_safetensors_with`]).
//!
//! - **Loading** ([`load_safetensors`]) validates everything before writing anything: the
//!   file (as [`SafeTensors::parse`] does), then every expected key present with a float
//!   dtype (`F32`, or `F64` rounded to nearest, or `F16`/`BF16` exactly) and its exact shape,
//!   and no other key ([`load_safetensors_lenient`] ignores other keys). The model is
//!   unchanged on any error. `num_batches_tracked` is optional (constnn does not count
//!   batches); if present it must be an `I64` scalar, and its value is ignored.
//! - **Saving** ([`save_safetensors`]) writes the header the reference writer would
//!   (compact JSON, `{"__metadata__":{"format":"pt"}, …}`, padded with spaces to a multiple
//!   of 8), into a buffer of exactly [`safetensors_len::<M>()`](safetensors_len) bytes (a
//!   `const fn`). `num_batches_tracked` is written as an `I64` 0 (PyTorch reads it only when
//!   `momentum=None`); the `I64` tensors come first in the data area, so each is 8-byte
//!   aligned.
//!
//! Keys are built in a fixed buffer of [`MAX_KEY_LEN`] bytes ([`Key`]): no allocation.
//!
//! # `.npy`, one array per tensor
//!
//! [`for_each_tensor`] hands each tensor's key, [`Layout`] and values (constnn's order) to a
//! closure, which can write it with [`npy::write_f32`](super::npy::write_f32): a vector as
//! is (`&[n]`), and a [`Layout::Transposed`] weight with the shape `&[cols, rows]` (constnn's
//! `[IN, OUT]` order), which numpy loads as the transpose of PyTorch's weight (`w.T`).
//!
//! ```
//! use constnn::format::{npy, torch};
//! use constnn::{Linear, Params, Relu, Zeroed};
//! use constnn::rand_core::SeedableRng;
//!
//! let mut model = (Linear::<4, 8>::ZERO, Relu, Linear::<8, 3>::ZERO);
//! model.init(&mut constnn::XorShiftRng::seed_from_u64(0));
//! let mut files = 0;
//! torch::for_each_tensor(&model, "", |key, layout, values| {
//!     let mut buf = [0u8; 256];
//!     let n = match layout {
//!         // numpy: np.load("0.weight.npy").T == state_dict["0.weight"]
//!         torch::Layout::Transposed { rows, cols } => npy::write_f32(&mut buf, &[cols, rows], values)?,
//!         _ => npy::write_f32(&mut buf, &[values.len()], values)?,
//!     };
//!     // std::fs::write(format!("{key}.npy"), &buf[..n]) on a host
//!     assert!(n > 0 && !key.is_empty());
//!     files += 1;
//!     Ok(())
//! })?;
//! assert_eq!(files, 4);
//! # Ok::<(), constnn::Error>(())
//! ```

use super::Dtype;
use super::safetensors::SafeTensors;
use super::safetensors::writer::{Out, digits, escaped_len};
use crate::error::Error;
use crate::layers::{BatchNorm1d, Dropout, Frozen, LeakyRelu, Linear, Relu, Sigmoid, Tanh};
use crate::module::Params;

/// The longest key (the global prefix included), in bytes.
pub const MAX_KEY_LEN: usize = 128;

/// The most `F32` tensors a model's [`StateLayout`] may describe (a compile-time limit).
pub const MAX_TENSORS: usize = 128;

/// The tensor capacity of the reader [`load_safetensors`] uses (its parsed header lives on
/// the stack); for other files parse with [`SafeTensors::<MAX>::parse`] and call
/// [`load_state_dict`].
pub const LOAD_CAPACITY: usize = 64;

/// The `__metadata__` entry `safetensors.torch.save_file` writes.
const METADATA: &str = "\"__metadata__\":{\"format\":\"pt\"}";

/// The bytes of `"":{"dtype":"F32","shape":[],"data_offsets":[,]}`: one entry without its
/// name, dimensions and offsets (the same with `"I64"`).
const ENTRY_FIXED_LEN: usize = 48;

/// A tensor key being built: the global prefix, the module path, the tensor's name
/// (`"net.0.weight"`), in a fixed buffer of [`MAX_KEY_LEN`] bytes.
#[derive(Debug, Clone)]
pub struct Key {
    buf: [u8; MAX_KEY_LEN],
    len: usize,
}

impl Key {
    /// A key holding `prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLong`] if `prefix` is longer than [`MAX_KEY_LEN`].
    pub fn new(prefix: &str) -> Result<Self, Error> {
        let mut key = Key {
            buf: [0; MAX_KEY_LEN],
            len: 0,
        };
        key.push(prefix)?;
        Ok(key)
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are appended and only cut back to earlier ends, so the bytes are
        // always UTF-8; the fallback is never taken.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push(&mut self, s: &str) -> Result<(), Error> {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(Error::KeyTooLong {
            capacity: MAX_KEY_LEN,
        })?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// Runs `f` with `part` appended to the key (a tensor's name, or a submodule's name
    /// followed by `.`), then restores the key.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLong`], or `f`'s error.
    pub fn scoped<R>(
        &mut self,
        part: &str,
        f: impl FnOnce(&mut Key) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mark = self.len;
        self.push(part)?;
        let r = f(self);
        self.len = mark;
        r
    }

    /// Runs `f` with `"{index}."` appended (an `nn.Sequential` position), then restores the
    /// key.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLong`], or `f`'s error.
    pub fn scoped_index<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut Key) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut tmp = [0u8; 21];
        let n = index_text(index, &mut tmp);
        let part = core::str::from_utf8(&tmp[..n]).unwrap_or(".");
        self.scoped(part, f)
    }
}

/// Writes `"{index}."` into `tmp`, returns its length.
fn index_text(index: usize, tmp: &mut [u8; 21]) -> usize {
    let n = digits(index);
    let mut v = index;
    for i in (0..n).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    tmp[n] = b'.';
    n + 1
}

/// How one `state_dict` tensor holds a layer's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// An `F32` vector of this length (shape `[n]`), in the layer's order.
    Vector(usize),
    /// An `F32` matrix of shape `[rows, cols]` whose constnn values are stored transposed,
    /// `values[c·rows + r] = t[r][c]`: a `Linear<IN, OUT>`'s weight, `rows = OUT`,
    /// `cols = IN`.
    Transposed {
        /// The file's first dimension (`OUT`).
        rows: usize,
        /// The file's second dimension (`IN`).
        cols: usize,
    },
    /// An `I64` scalar that constnn does not keep (`num_batches_tracked`): written as 0,
    /// optional on load (an `I64` scalar if present, its value ignored); no values.
    Counter,
}

impl Layout {
    /// The number of `f32` values the layer holds for the tensor (0 for a counter).
    pub const fn floats(self) -> usize {
        match self {
            Layout::Vector(n) => n,
            Layout::Transposed { rows, cols } => rows * cols,
            Layout::Counter => 0,
        }
    }

    /// The tensor's dtype in the file.
    pub const fn dtype(self) -> Dtype {
        match self {
            Layout::Counter => Dtype::I64,
            _ => Dtype::F32,
        }
    }

    /// The shape in the file (PyTorch's), as an array and its rank.
    pub const fn shape(self) -> ([usize; 2], usize) {
        match self {
            Layout::Vector(n) => ([n, 0], 1),
            Layout::Transposed { rows, cols } => ([rows, cols], 2),
            Layout::Counter => ([0, 0], 0),
        }
    }

    /// The bytes of the shape's digits and commas in a header.
    const fn shape_text_len(self) -> usize {
        match self {
            Layout::Vector(n) => digits(n),
            Layout::Transposed { rows, cols } => digits(rows) + 1 + digits(cols),
            Layout::Counter => 0,
        }
    }
}

/// What a model's `state_dict` holds, computed at compile time by [`StateDict::LAYOUT`]: the
/// number of tensors, the lengths of their keys and shapes, the size of each `F32` tensor.
/// It makes [`safetensors_len`] exact and `const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLayout {
    tensors: usize,
    key_bytes: usize,
    shape_bytes: usize,
    counters: usize,
    floats: usize,
    f32_tensors: usize,
    sizes: [usize; MAX_TENSORS],
}

impl StateLayout {
    /// No tensor: a parameter-free layer's.
    pub const EMPTY: Self = Self {
        tensors: 0,
        key_bytes: 0,
        shape_bytes: 0,
        counters: 0,
        floats: 0,
        f32_tensors: 0,
        sizes: [0; MAX_TENSORS],
    };

    /// Adds a tensor named `name` (the order must be [`StateDict::visit_state`]'s).
    ///
    /// # Panics
    ///
    /// Beyond [`MAX_TENSORS`] `F32` tensors; in the `const` of a [`StateDict`] impl, this is
    /// a compile error.
    pub const fn tensor(mut self, name: &str, layout: Layout) -> Self {
        self.tensors += 1;
        self.key_bytes += escaped_len(name);
        self.shape_bytes += layout.shape_text_len();
        match layout {
            Layout::Counter => self.counters += 1,
            _ => {
                assert!(
                    self.f32_tensors < MAX_TENSORS,
                    "a state_dict holds at most MAX_TENSORS F32 tensors"
                );
                self.sizes[self.f32_tensors] = 4 * layout.floats();
                self.f32_tensors += 1;
                self.floats += layout.floats();
            }
        }
        self
    }

    /// Adds a submodule's tensors under `"{name}."`.
    ///
    /// # Panics
    ///
    /// As [`tensor`](Self::tensor).
    pub const fn child(self, name: &str, child: StateLayout) -> Self {
        self.child_prefixed(escaped_len(name) + 1, child)
    }

    /// Adds a submodule's tensors under `"{index}."` (an `nn.Sequential` position).
    ///
    /// # Panics
    ///
    /// As [`tensor`](Self::tensor).
    pub const fn child_index(self, index: usize, child: StateLayout) -> Self {
        self.child_prefixed(digits(index) + 1, child)
    }

    const fn child_prefixed(mut self, prefix_len: usize, child: StateLayout) -> Self {
        self.tensors += child.tensors;
        self.key_bytes += child.key_bytes + child.tensors * prefix_len;
        self.shape_bytes += child.shape_bytes;
        self.counters += child.counters;
        self.floats += child.floats;
        let mut i = 0;
        while i < child.f32_tensors {
            assert!(
                self.f32_tensors < MAX_TENSORS,
                "a state_dict holds at most MAX_TENSORS F32 tensors"
            );
            self.sizes[self.f32_tensors] = child.sizes[i];
            self.f32_tensors += 1;
            i += 1;
        }
        self
    }

    /// The number of tensors (keys).
    pub const fn len(&self) -> usize {
        self.tensors
    }

    /// Whether there is no tensor.
    pub const fn is_empty(&self) -> bool {
        self.tensors == 0
    }

    /// The number of `f32` values the tensors hold (the model's
    /// [`NUM_STORED`](Params::NUM_STORED)).
    pub const fn floats(&self) -> usize {
        self.floats
    }

    /// The data area's length: the counters' 8 bytes each, then the `F32` tensors.
    const fn data_len(&self) -> usize {
        8 * self.counters + 4 * self.floats
    }

    /// The header's length without the prefix's share and the padding.
    const fn header_len_unprefixed(&self) -> usize {
        let mut n = 2 + METADATA.len();
        if self.tensors > 0 {
            // The commas after the metadata and between the tensors.
            n += self.tensors;
        }
        n += self.tensors * ENTRY_FIXED_LEN + self.key_bytes + self.shape_bytes;
        let mut j = 0;
        while j < self.counters {
            n += digits(8 * j) + digits(8 * j + 8);
            j += 1;
        }
        let mut offset = 8 * self.counters;
        let mut i = 0;
        while i < self.f32_tensors {
            n += digits(offset) + digits(offset + self.sizes[i]);
            offset += self.sizes[i];
            i += 1;
        }
        n
    }
}

/// The lengths [`save_safetensors`] needs, evaluated once per model at compile time.
struct Lengths<M>(core::marker::PhantomData<M>);

impl<M: StateDict> Lengths<M> {
    const TENSORS: usize = M::LAYOUT.tensors;
    const COUNTERS: usize = M::LAYOUT.counters;
    const HEADER: usize = {
        assert!(
            M::LAYOUT.floats == M::NUM_STORED,
            "a StateDict layout must hold exactly the model's NUM_STORED values"
        );
        M::LAYOUT.header_len_unprefixed()
    };
    const DATA: usize = M::LAYOUT.data_len();
}

/// A model (or layer) whose stored values are a PyTorch `state_dict`: named tensors, in
/// PyTorch's names and layouts. See the [module](self) for the layers' keys.
///
/// Implementing it for a layer of your own: describe the tensors in [`LAYOUT`](Self::LAYOUT)
/// and hand the same tensors, in the same order, to the closure in
/// [`visit_state`](Self::visit_state) and [`visit_state_mut`](Self::visit_state_mut) (within
/// [`Key::scoped`] for each name). Their values must be, in total, the layer's
/// [`Params::visit`] values (checked at compile time).
pub trait StateDict: Params {
    /// The tensors' names, shapes and sizes.
    const LAYOUT: StateLayout;

    /// Calls `f(key, layout, values)` for each tensor, `key` ending with its name.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLong`], or the first error of `f`.
    fn visit_state<F>(&self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>;

    /// As [`visit_state`](Self::visit_state), with the values mutable.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLong`], or the first error of `f`.
    fn visit_state_mut<F>(&mut self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>;
}

impl<const IN: usize, const OUT: usize> StateDict for Linear<IN, OUT> {
    const LAYOUT: StateLayout = StateLayout::EMPTY
        .tensor("weight", Self::WEIGHT)
        .tensor("bias", Layout::Vector(OUT));

    fn visit_state<F>(&self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>,
    {
        key.scoped("weight", |k| f(k, Self::WEIGHT, self.weight.as_flattened()))?;
        key.scoped("bias", |k| f(k, Layout::Vector(OUT), &self.bias))
    }

    fn visit_state_mut<F>(&mut self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>,
    {
        key.scoped("weight", |k| {
            f(k, Self::WEIGHT, self.weight.as_flattened_mut())
        })?;
        key.scoped("bias", |k| f(k, Layout::Vector(OUT), &mut self.bias))
    }
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// PyTorch's `[OUT, IN]` weight, the transpose of `weight[i][o]`.
    const WEIGHT: Layout = Layout::Transposed {
        rows: OUT,
        cols: IN,
    };
}

impl<const N: usize> StateDict for BatchNorm1d<N> {
    const LAYOUT: StateLayout = StateLayout::EMPTY
        .tensor("weight", Layout::Vector(N))
        .tensor("bias", Layout::Vector(N))
        .tensor("running_mean", Layout::Vector(N))
        .tensor("running_var", Layout::Vector(N))
        .tensor("num_batches_tracked", Layout::Counter);

    fn visit_state<F>(&self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>,
    {
        let v = Layout::Vector(N);
        key.scoped("weight", |k| f(k, v, &self.gamma))?;
        key.scoped("bias", |k| f(k, v, &self.beta))?;
        key.scoped("running_mean", |k| f(k, v, &self.running_mean))?;
        key.scoped("running_var", |k| f(k, v, &self.running_var))?;
        key.scoped("num_batches_tracked", |k| f(k, Layout::Counter, &[]))
    }

    fn visit_state_mut<F>(&mut self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>,
    {
        let v = Layout::Vector(N);
        key.scoped("weight", |k| f(k, v, &mut self.gamma))?;
        key.scoped("bias", |k| f(k, v, &mut self.beta))?;
        key.scoped("running_mean", |k| f(k, v, &mut self.running_mean))?;
        key.scoped("running_var", |k| f(k, v, &mut self.running_var))?;
        key.scoped("num_batches_tracked", |k| f(k, Layout::Counter, &mut []))
    }
}

macro_rules! no_state {
    ($($L:ty),*) => {$(
        impl StateDict for $L {
            const LAYOUT: StateLayout = StateLayout::EMPTY;

            fn visit_state<F>(&self, _: &mut Key, _: &mut F) -> Result<(), Error>
            where
                F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>,
            {
                Ok(())
            }

            fn visit_state_mut<F>(&mut self, _: &mut Key, _: &mut F) -> Result<(), Error>
            where
                F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>,
            {
                Ok(())
            }
        }
    )*};
}

no_state!(Relu, Tanh, Sigmoid, LeakyRelu, Dropout);

impl<L: StateDict> StateDict for Frozen<L> {
    const LAYOUT: StateLayout = L::LAYOUT;

    fn visit_state<F>(&self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>,
    {
        self.0.visit_state(key, f)
    }

    fn visit_state_mut<F>(&mut self, key: &mut Key, f: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>,
    {
        self.0.visit_state_mut(key, f)
    }
}

macro_rules! tuple_state {
    ($($T:ident $i:tt),+) => {
        impl<$($T: StateDict),+> StateDict for ($($T,)+) {
            const LAYOUT: StateLayout = StateLayout::EMPTY $(.child_index($i, $T::LAYOUT))+;

            fn visit_state<F>(&self, key: &mut Key, f: &mut F) -> Result<(), Error>
            where
                F: FnMut(&Key, Layout, &[f32]) -> Result<(), Error>,
            {
                $(key.scoped_index($i, |k| self.$i.visit_state(k, f))?;)+
                Ok(())
            }

            fn visit_state_mut<F>(&mut self, key: &mut Key, f: &mut F) -> Result<(), Error>
            where
                F: FnMut(&Key, Layout, &mut [f32]) -> Result<(), Error>,
            {
                $(key.scoped_index($i, |k| self.$i.visit_state_mut(k, f))?;)+
                Ok(())
            }
        }
    };
}

tuple_state!(A 0);
tuple_state!(A 0, B 1);
tuple_state!(A 0, B 1, C 2);
tuple_state!(A 0, B 1, C 2, D 3);
tuple_state!(A 0, B 1, C 2, D 3, E 4);
tuple_state!(A 0, B 1, C 2, D 3, E 4, F5 5);
tuple_state!(A 0, B 1, C 2, D 3, E 4, F5 5, G 6);
tuple_state!(A 0, B 1, C 2, D 3, E 4, F5 5, G 6, H 7);

/// The exact length of the `safetensors` file [`save_safetensors`] writes for `M`, for a
/// `[u8; safetensors_len::<M>()]` buffer.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Relu, safetensors_len};
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// static BUF: [u8; safetensors_len::<Mlp>()] = [0; safetensors_len::<Mlp>()];
/// assert_eq!(BUF.len() % 4, 0);
/// ```
pub const fn safetensors_len<M: StateDict>() -> usize {
    safetensors_len_with::<M>("")
}

/// [`safetensors_len`] with every key prefixed by `prefix` ([`save_safetensors_with`]).
pub const fn safetensors_len_with<M: StateDict>(prefix: &str) -> usize {
    let header = Lengths::<M>::HEADER + Lengths::<M>::TENSORS * escaped_len(prefix);
    8 + header.div_ceil(8) * 8 + Lengths::<M>::DATA
}

/// Writes `model` as a PyTorch `state_dict` in `safetensors` format into `out` (at least
/// [`safetensors_len::<M>()`](safetensors_len) bytes); returns the bytes written.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is too short (nothing is written then).
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Params, Relu, Zeroed, load_safetensors, save_safetensors, safetensors_len};
/// use constnn::format::safetensors::SafeTensors;
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>); // nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
/// let mut a = Mlp::ZERO;
/// a.init(&mut constnn::XorShiftRng::seed_from_u64(1));
/// let mut file = [0u8; safetensors_len::<Mlp>()];
/// save_safetensors(&a, &mut file)?;
///
/// let parsed = SafeTensors::<8>::parse(&file)?;
/// assert_eq!(parsed.get("2.weight").unwrap().shape(), &[3, 8]); // [out, in]
///
/// let mut b = Mlp::ZERO;
/// load_safetensors(&mut b, &file)?;
/// assert_eq!(a, b);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn save_safetensors<M: StateDict>(model: &M, out: &mut [u8]) -> Result<usize, Error> {
    save_safetensors_with(model, out, "")
}

/// [`save_safetensors`] with every key prefixed by `prefix` (`"net."` for a model that is
/// attribute `net` of a PyTorch module).
///
/// # Errors
///
/// [`Error::BufferTooSmall`] (nothing written), [`Error::KeyTooLong`].
pub fn save_safetensors_with<M: StateDict>(
    model: &M,
    out: &mut [u8],
    prefix: &str,
) -> Result<usize, Error> {
    let mut key = Key::new(prefix)?;
    let header = Lengths::<M>::HEADER + Lengths::<M>::TENSORS * escaped_len(prefix);
    let padded = header.div_ceil(8) * 8;
    let data_start = 8 + padded;
    let total = data_start + Lengths::<M>::DATA;
    let available = out.len();
    let Some(out) = out.get_mut(..total) else {
        return Err(Error::BufferTooSmall {
            needed: total,
            available,
        });
    };
    let (head, data) = out.split_at_mut(data_start);
    let mut w = Out { buf: head, pos: 0 };
    w.bytes(&(padded as u64).to_le_bytes());
    w.bytes(b"{");
    w.bytes(METADATA.as_bytes());
    let mut counter_at = 0usize;
    let mut f32_at = 8 * Lengths::<M>::COUNTERS;
    model.visit_state(
        &mut key,
        &mut |key: &Key, layout: Layout, values: &[f32]| {
            if values.len() != layout.floats() {
                return Err(Error::LengthMismatch {
                    expected: layout.floats(),
                    found: values.len(),
                });
            }
            let begin = match layout {
                Layout::Counter => &mut counter_at,
                _ => &mut f32_at,
            };
            let start = *begin;
            let end = start + 4 * values.len() + if layout == Layout::Counter { 8 } else { 0 };
            *begin = end;
            w.bytes(b",");
            let (shape, rank) = layout.shape();
            w.tensor_entry(key.as_str(), layout.dtype(), &shape[..rank], start, end);
            let dst = data.get_mut(start..end).ok_or(Error::LengthMismatch {
                expected: Lengths::<M>::DATA,
                found: end,
            })?;
            match layout {
                Layout::Counter => dst.fill(0),
                Layout::Vector(_) => {
                    for (d, v) in dst.chunks_exact_mut(4).zip(values) {
                        d.copy_from_slice(&v.to_le_bytes());
                    }
                }
                Layout::Transposed { rows, cols } => {
                    // File element (r, c) is constnn's values[c·rows + r].
                    for (at, d) in dst.chunks_exact_mut(4).enumerate() {
                        let (r, c) = (at / cols, at % cols);
                        if let Some(v) = values.get(c * rows + r) {
                            d.copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
            Ok(())
        },
    )?;
    w.bytes(b"}");
    // A `StateDict` impl whose visit disagrees with its `LAYOUT` would write another header
    // length than the one sized; report it rather than write a corrupt file.
    if w.pos != 8 + header
        || f32_at != Lengths::<M>::DATA
        || counter_at != 8 * Lengths::<M>::COUNTERS
    {
        return Err(Error::LengthMismatch {
            expected: 8 + header,
            found: w.pos,
        });
    }
    while w.pos < data_start {
        w.bytes(b" ");
    }
    Ok(total)
}

/// Loads a PyTorch `state_dict` saved as `safetensors` (by `safetensors.torch.save_file`, or
/// [`save_safetensors`]) into `model`, strictly: the file, every key, dtype and shape are
/// checked, and no key may be left over, before `model` is written; on error it is
/// unchanged. The file may hold at most [`LOAD_CAPACITY`] tensors.
///
/// # Errors
///
/// Any error of [`SafeTensors::parse`]; then, for the first tensor of the model (in
/// [`StateDict::visit_state`] order) at fault: [`Error::MissingTensor`],
/// [`Error::WrongDtype`] (`expected: F32`, or `I64` for `num_batches_tracked`),
/// [`Error::RankMismatch`], [`Error::ShapeMismatch`]; then [`Error::UnexpectedTensor`] for a
/// key the model does not have (`index`: the tensor's position in the file's data order).
pub fn load_safetensors<M: StateDict>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    load_safetensors_with(model, bytes, "")
}

/// [`load_safetensors`] with every key expected under `prefix` (`"net."`).
///
/// # Errors
///
/// As [`load_safetensors`], and [`Error::KeyTooLong`].
pub fn load_safetensors_with<M: StateDict>(
    model: &mut M,
    bytes: &[u8],
    prefix: &str,
) -> Result<(), Error> {
    let file = SafeTensors::<LOAD_CAPACITY>::parse(bytes)?;
    load_state_dict(model, &file, prefix, true)
}

/// [`load_safetensors_with`], ignoring the file's tensors the model does not have (a bigger
/// module's other parameters, an optimizer's buffers).
///
/// # Errors
///
/// As [`load_safetensors_with`], without [`Error::UnexpectedTensor`].
pub fn load_safetensors_lenient<M: StateDict>(
    model: &mut M,
    bytes: &[u8],
    prefix: &str,
) -> Result<(), Error> {
    let file = SafeTensors::<LOAD_CAPACITY>::parse(bytes)?;
    load_state_dict(model, &file, prefix, false)
}

/// Loads the tensors of an already parsed file (any capacity `MAX`) into `model`, every key
/// under `prefix`; with `strict`, a key the model does not have is an error. Everything is
/// checked before `model` is written.
///
/// # Errors
///
/// As [`load_safetensors_with`] after the parse.
pub fn load_state_dict<M: StateDict, const MAX: usize>(
    model: &mut M,
    file: &SafeTensors<'_, MAX>,
    prefix: &str,
    strict: bool,
) -> Result<(), Error> {
    let mut key = Key::new(prefix)?;
    // Pass 1: every tensor the model needs, checked; nothing written.
    let mut matched = 0usize;
    model.visit_state(&mut key, &mut |key: &Key, layout: Layout, _: &[f32]| {
        let Some(t) = file.get(key.as_str()) else {
            return if layout == Layout::Counter {
                Ok(())
            } else {
                Err(Error::MissingTensor)
            };
        };
        let dtype_ok = match layout {
            Layout::Counter => t.dtype() == Dtype::I64,
            _ => t.dtype().reads_as_f32(),
        };
        if !dtype_ok {
            return Err(Error::WrongDtype {
                expected: layout.dtype(),
                found: t.dtype(),
            });
        }
        let (shape, rank) = layout.shape();
        t.expect_shape(&shape[..rank])?;
        matched += 1;
        Ok(())
    })?;
    if strict && matched != file.len() {
        for (index, t) in file.iter().enumerate() {
            let mut known = false;
            model.visit_state(&mut key, &mut |key: &Key, _, _| {
                known |= t.name() == key.as_str();
                Ok(())
            })?;
            if !known {
                return Err(Error::UnexpectedTensor { index });
            }
        }
    }
    // Pass 2: the checked tensors, copied (these reads cannot fail any more).
    model.visit_state_mut(
        &mut key,
        &mut |key: &Key, layout: Layout, values: &mut [f32]| match (layout, file.get(key.as_str()))
        {
            (Layout::Vector(_), Some(t)) => t.read_f32(values),
            (Layout::Transposed { rows, cols }, Some(t)) => {
                t.read_f32_transposed(rows, cols, values)
            }
            _ => Ok(()),
        },
    )
}

/// Calls `f(key, layout, values)` for each tensor of `model`'s `state_dict`, keys prefixed by
/// `prefix`: to list the keys a file must have, or to write each tensor as a `.npy` (see the
/// [module](self)).
///
/// # Errors
///
/// [`Error::KeyTooLong`], or the first error of `f`.
pub fn for_each_tensor<M: StateDict>(
    model: &M,
    prefix: &str,
    mut f: impl FnMut(&str, Layout, &[f32]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut key = Key::new(prefix)?;
    model.visit_state(&mut key, &mut |key: &Key, layout, values: &[f32]| {
        f(key.as_str(), layout, values)
    })
}

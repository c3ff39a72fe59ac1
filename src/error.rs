//! The one error type of the crate.

use core::fmt;

/// Everything that can go wrong at run time.
///
/// Shapes are types, so there is no shape error: only *data* (labels, targets, inputs,
/// hyperparameters, a loss or an update that overflowed) can be wrong.
///
/// # Examples
///
/// ```
/// use constnn::{Error, cross_entropy_with_logits};
///
/// let logits = [[0.0f32, 1.0, 2.0]];
/// let err = cross_entropy_with_logits(&logits, &[3]).unwrap_err();
/// assert_eq!(err, Error::LabelOutOfRange { row: 0, label: 3, classes: 3 });
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// The batch row holding the label.
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes (the model's output width).
        classes: usize,
    },
    /// A target distribution (e.g. one-hot) row holds a negative or non-finite value.
    InvalidTarget {
        /// The batch row holding the bad target.
        row: usize,
    },
    /// The loss is NaN or infinite: a NaN logit, an infinite logit on the label or a `+∞`
    /// anywhere, or finite logits so far apart that the loss overflows (diverged training).
    /// Training steps return this before updating the parameters.
    NonFiniteLoss,
    /// The learning rate is not finite and strictly positive.
    InvalidLearningRate,
    /// A hyperparameter other than the learning rate is out of its documented range.
    InvalidHyperparameter(Hyperparameter),
    /// An input batch row holds a NaN or an infinity (checked before anything is written).
    NonFiniteInput {
        /// The batch row.
        row: usize,
    },
    /// A gradient is NaN or infinite (buffered step: nothing was updated).
    NonFiniteGradient,
    /// The update would make (buffered step: nothing was updated) or has made (fused step)
    /// a parameter NaN or infinite.
    NonFiniteParameters,
    // quantization
    /// Quantization was asked for before any calibration data was observed.
    CalibrationEmpty,
    /// A calibration value (the model's input or a layer's output), a weight or a bias is NaN
    /// or infinite, so no quantization range can be chosen.
    QuantizationNotFinite,
    /// A quantization scale is not finite and strictly positive, or a requantization
    /// multiplier `s_in·s_w / s_out` is too large for TFLite's fixed-point form (≥ 2^30).
    ScaleOutOfRange,
    /// A `Relu` to quantize does not follow a `Linear`: the int8 ReLU exists only as the
    /// preceding layer's clamp, so its input must have zero point −128 (all values ≥ 0).
    ReluNotFused,
    // weights formats: the constnn container, safetensors and .npy (src/format).
    //
    // `offset` fields are byte offsets from the start of the input; lengths are in bytes
    // unless a variant says otherwise.
    /// The output buffer is too small for what is being written.
    BufferTooSmall {
        /// The bytes the output needs.
        needed: usize,
        /// The bytes the buffer has.
        available: usize,
    },
    /// The input ends before what its header declares.
    Truncated {
        /// The bytes the header declares (up to the end of what was being read).
        needed: usize,
        /// The bytes the input has.
        available: usize,
    },
    /// The input goes on after the end its header declares.
    TrailingBytes {
        /// The length the header declares.
        expected: usize,
        /// The input's length.
        found: usize,
    },
    /// The input does not start with the format's magic bytes.
    BadMagic,
    /// A format version this crate does not read (for `.npy`, `major × 256 + minor`).
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// A dtype this crate does not know (an unknown container code, `safetensors` name or
    /// `.npy` descriptor, such as big-endian `'>f4'`).
    UnknownDtype {
        /// Where the dtype is.
        offset: usize,
    },
    /// A known dtype, but not the one needed.
    WrongDtype {
        /// The dtype needed.
        expected: crate::format::Dtype,
        /// The dtype found.
        found: crate::format::Dtype,
    },
    /// Reserved flag bits are set in a constnn container.
    UnknownFlags {
        /// The flags byte found.
        found: u8,
    },
    /// The weights were saved from another model (another layer structure or widths).
    SignatureMismatch {
        /// The signature of the model being loaded.
        expected: u64,
        /// The signature the blob holds.
        found: u64,
    },
    /// A container's parameter payload does not have the model's length (in bytes).
    PayloadLengthMismatch {
        /// The payload bytes the model needs.
        expected: usize,
        /// The payload bytes the blob declares.
        found: usize,
    },
    /// A container's optimizer state does not have the optimizer's length (in bytes).
    StateLengthMismatch {
        /// The state bytes the optimizer needs.
        expected: usize,
        /// The state bytes the blob declares.
        found: usize,
    },
    /// A checkpoint (optimizer state and step count) was asked for, the blob holds weights only.
    NotACheckpoint,
    /// The checksum over the blob does not match the one stored in it: the bytes are corrupt.
    ChecksumMismatch {
        /// The CRC-32 computed over the bytes.
        expected: u32,
        /// The CRC-32 stored in the blob.
        found: u32,
    },
    /// A number of values differs from what was declared (values pushed into a writer, or
    /// the length of the slice a tensor is read into), in elements.
    LengthMismatch {
        /// The number of values needed.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// A size exceeds the format's limit (a `safetensors` header over 100 MB, a container
    /// payload over 4 GiB, a `.npy` v1 header over 64 KiB).
    TooLarge {
        /// The largest size allowed.
        limit: usize,
        /// The size found or asked for.
        found: usize,
    },
    /// A text header (JSON, or `.npy`'s Python literal) is not well formed at `offset`, or a
    /// binary header field holds a value that contradicts another.
    MalformedHeader {
        /// The first byte that is wrong.
        offset: usize,
    },
    /// A stored value is outside its range (an int8 model's multiplier, shift, scale or clamp:
    /// see [`format::quantized`](crate::format::quantized)).
    ValueOutOfRange {
        /// The value's first byte in the blob.
        offset: usize,
    },
    /// A header value is well formed but of the wrong kind (a string where a list is needed,
    /// a negative or fractional number where a size is needed, …).
    WrongType {
        /// Where the value starts.
        offset: usize,
    },
    /// An integer in a header does not fit in `usize`.
    NumberOverflow {
        /// Where the number starts.
        offset: usize,
    },
    /// A key appears twice in the same header object (tensor names compared after unescaping).
    DuplicateKey {
        /// Where the second occurrence starts.
        offset: usize,
    },
    /// A header object holds a key the format does not define.
    UnknownField {
        /// Where the key starts.
        offset: usize,
    },
    /// A header object lacks a required key.
    MissingField {
        /// Where the object starts.
        offset: usize,
    },
    /// More tensors (or metadata entries) than the reader's capacity.
    TooManyTensors {
        /// The capacity.
        capacity: usize,
    },
    /// A tensor has more dimensions than a reader or writer stores.
    TooManyDims {
        /// The largest rank supported.
        capacity: usize,
    },
    /// The product of a shape's dimensions (times the element size) overflows `usize` (for
    /// `.npy`, exceeds `isize::MAX`, numpy's limit).
    ShapeOverflow {
        /// Where the shape starts (`.npy`: where the header starts; a writer: the tensor's
        /// position in its list, 0 for `.npy`).
        offset: usize,
    },
    /// A sub-byte dtype's tensor does not end on a byte boundary.
    MisalignedTensor {
        /// Where the tensor's entry starts.
        offset: usize,
    },
    /// A tensor's byte range does not match its shape and dtype.
    TensorSizeMismatch {
        /// The bytes the shape and dtype need.
        expected: usize,
        /// The bytes the offsets span.
        found: usize,
    },
    /// A tensor's end offset is before its begin offset.
    InvalidOffsets {
        /// The begin offset.
        begin: usize,
        /// The end offset.
        end: usize,
    },
    /// Tensor data leaves unused bytes: the next tensor (in offset order) starts after the
    /// previous one ends (or the first after 0).
    OffsetsHole {
        /// Where the next tensor should start (relative to the data area).
        expected: usize,
        /// Where it starts.
        found: usize,
    },
    /// Tensor data overlaps: the next tensor (in offset order) starts before the previous ends.
    OffsetsOverlap {
        /// Where the next tensor should start (relative to the data area).
        expected: usize,
        /// Where it starts.
        found: usize,
    },
    /// A `.npy` array stored in Fortran (column-major) order; only C order is read.
    FortranOrder,
    /// A tensor's dimension differs from the one needed.
    ShapeMismatch {
        /// The axis.
        axis: usize,
        /// The dimension needed.
        expected: usize,
        /// The dimension found.
        found: usize,
    },
    /// A tensor's number of dimensions differs from the one needed.
    RankMismatch {
        /// The rank needed.
        expected: usize,
        /// The rank found.
        found: usize,
    },
    /// A tensor needed is not in the file.
    MissingTensor,
    /// A writer was given the same name twice.
    DuplicateName {
        /// The position of the second occurrence in the writer's list.
        index: usize,
    },
    /// A writer was given a name the format reserves (`"__metadata__"` in `safetensors`).
    ReservedName {
        /// The position of the name in the writer's list.
        index: usize,
    }, // PyTorch state_dicts
    /// A `state_dict` file holds a tensor the model does not have (strict loading).
    UnexpectedTensor {
        /// The tensor's position in the file (in data order).
        index: usize,
    },
    /// A `state_dict` key (prefix included) is longer than the key buffer.
    KeyTooLong {
        /// The buffer's capacity in bytes.
        capacity: usize,
    },
}

/// Which hyperparameter [`Error::InvalidHyperparameter`] is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hyperparameter {
    /// Momentum factor: `0 ≤ momentum < 1`.
    Momentum,
    /// Dampening: `0 ≤ dampening ≤ 1`, and 0 with Nesterov momentum.
    Dampening,
    /// Nesterov momentum needs `momentum > 0` and no dampening.
    Nesterov,
    /// Weight decay: finite, `≥ 0`.
    WeightDecay,
    /// Adam's first-moment decay: `0 ≤ β1 < 1`.
    Beta1,
    /// Adam's second-moment decay: `0 ≤ β2 < 1`.
    Beta2,
    /// Epsilon: finite, `> 0`.
    Epsilon,
    /// RMSprop's smoothing constant: `0 ≤ alpha < 1`.
    Alpha,
    /// Gradient clipping norm: finite, `> 0`.
    MaxNorm,
    // layers
    /// [`Dropout`](crate::Dropout)'s drop probability: `0 ≤ p < 1`.
    DropRate,
    /// [`LeakyRelu`](crate::LeakyRelu)'s negative slope: `0 ≤ slope < 1`.
    NegativeSlope,
    /// [`BatchNorm1d`](crate::BatchNorm1d)'s running-statistics momentum: `0 ≤ momentum ≤ 1`.
    NormMomentum,
}

impl Hyperparameter {
    /// The hyperparameter's name and valid range, as the documentation states them.
    pub const fn describe(self) -> &'static str {
        match self {
            Hyperparameter::Momentum => "momentum must be in [0, 1)",
            Hyperparameter::Dampening => {
                "dampening must be in [0, 1], and 0 with Nesterov momentum"
            }
            Hyperparameter::Nesterov => "Nesterov momentum needs momentum > 0 and no dampening",
            Hyperparameter::WeightDecay => "weight decay must be finite and >= 0",
            Hyperparameter::Beta1 => "beta1 must be in [0, 1)",
            Hyperparameter::Beta2 => "beta2 must be in [0, 1)",
            Hyperparameter::Epsilon => "eps must be finite and > 0",
            Hyperparameter::Alpha => "alpha must be in [0, 1)",
            Hyperparameter::MaxNorm => "the maximum gradient norm must be finite and > 0",
            // layers
            Hyperparameter::DropRate => "the dropout drop probability must be in [0, 1)",
            Hyperparameter::NegativeSlope => "the leaky ReLU negative slope must be in [0, 1)",
            Hyperparameter::NormMomentum => "the batch-norm momentum must be in [0, 1]",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LabelOutOfRange {
                row,
                label,
                classes,
            } => write!(
                f,
                "label {label} in batch row {row} is out of range: the model has {classes} classes"
            ),
            Error::InvalidTarget { row } => write!(
                f,
                "target row {row} holds a negative or non-finite probability"
            ),
            Error::NonFiniteLoss => {
                f.write_str("the loss is not finite (NaN or infinite logits, or an overflow)")
            }
            Error::InvalidLearningRate => {
                f.write_str("the learning rate must be finite and greater than zero")
            }
            Error::InvalidHyperparameter(h) => f.write_str(h.describe()),
            Error::NonFiniteInput { row } => {
                write!(f, "input batch row {row} holds a NaN or an infinity")
            }
            Error::NonFiniteGradient => f.write_str("a gradient is NaN or infinite"),
            Error::NonFiniteParameters => {
                f.write_str("the update overflows: a parameter would be NaN or infinite")
            }
            // quantization
            Error::CalibrationEmpty => f.write_str("no calibration data was observed"),
            Error::QuantizationNotFinite => f.write_str(
                "a calibration value, weight or bias is NaN or infinite: it cannot be quantized",
            ),
            Error::ScaleOutOfRange => f.write_str(
                "a quantization scale is not finite and positive, or a requantization multiplier is out of range",
            ),
            Error::ReluNotFused => f.write_str(
                "a Relu can only be quantized right after a Linear (as that layer's clamp)",
            ),
            // weights formats
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "the output buffer holds {available} bytes, {needed} are needed"
            ),
            Error::Truncated { needed, available } => write!(
                f,
                "the input is truncated: {needed} bytes declared, {available} present"
            ),
            Error::TrailingBytes { expected, found } => write!(
                f,
                "the input has {found} bytes, its header declares {expected}"
            ),
            Error::BadMagic => {
                f.write_str("the input does not start with the format's magic bytes")
            }
            Error::UnsupportedVersion { found } => {
                write!(f, "format version {found:#06x} is not supported")
            }
            Error::UnknownDtype { offset } => write!(f, "unknown dtype at byte {offset}"),
            Error::WrongDtype { expected, found } => {
                write!(f, "dtype {found:?} found, {expected:?} needed")
            }
            Error::UnknownFlags { found } => {
                write!(f, "reserved flag bits set in the container: {found:#04x}")
            }
            Error::SignatureMismatch { expected, found } => write!(
                f,
                "the weights belong to another model: signature {found:#018x}, this model's is {expected:#018x}"
            ),
            Error::PayloadLengthMismatch { expected, found } => write!(
                f,
                "the parameters take {found} bytes in the blob, the model needs {expected}"
            ),
            Error::StateLengthMismatch { expected, found } => write!(
                f,
                "the optimizer state takes {found} bytes in the blob, the optimizer needs {expected}"
            ),
            Error::NotACheckpoint => {
                f.write_str("the blob holds weights only, not an optimizer state and step count")
            }
            Error::ChecksumMismatch { expected, found } => write!(
                f,
                "the blob is corrupt: CRC-32 {expected:#010x} computed, {found:#010x} stored"
            ),
            Error::LengthMismatch { expected, found } => {
                write!(f, "{found} values given, {expected} needed")
            }
            Error::TooLarge { limit, found } => {
                write!(f, "size {found} exceeds the format's limit of {limit}")
            }
            Error::MalformedHeader { offset } => write!(f, "malformed header at byte {offset}"),
            Error::ValueOutOfRange { offset } => {
                write!(f, "stored value out of its range at byte {offset}")
            }
            Error::WrongType { offset } => {
                write!(f, "header value of the wrong type at byte {offset}")
            }
            Error::NumberOverflow { offset } => {
                write!(f, "header number at byte {offset} does not fit in usize")
            }
            Error::DuplicateKey { offset } => write!(f, "duplicate header key at byte {offset}"),
            Error::UnknownField { offset } => write!(f, "unknown header field at byte {offset}"),
            Error::MissingField { offset } => write!(
                f,
                "the header object at byte {offset} lacks a required field"
            ),
            Error::TooManyTensors { capacity } => write!(
                f,
                "more tensors or metadata entries than the reader's capacity of {capacity}"
            ),
            Error::TooManyDims { capacity } => {
                write!(f, "a tensor has more than {capacity} dimensions")
            }
            Error::ShapeOverflow { offset } => {
                write!(f, "the size of the shape at byte {offset} overflows")
            }
            Error::MisalignedTensor { offset } => write!(
                f,
                "the tensor at byte {offset} does not end on a byte boundary"
            ),
            Error::TensorSizeMismatch { expected, found } => write!(
                f,
                "a tensor's offsets span {found} bytes, its shape and dtype need {expected}"
            ),
            Error::InvalidOffsets { begin, end } => {
                write!(f, "tensor offsets end at {end}, before their begin {begin}")
            }
            Error::OffsetsHole { expected, found } => write!(
                f,
                "tensor data has a hole: a tensor starts at {found}, the previous ends at {expected}"
            ),
            Error::OffsetsOverlap { expected, found } => write!(
                f,
                "tensor data overlaps: a tensor starts at {found}, the previous ends at {expected}"
            ),
            Error::FortranOrder => {
                f.write_str("the array is in Fortran order; only C order is supported")
            }
            Error::ShapeMismatch {
                axis,
                expected,
                found,
            } => write!(f, "tensor dimension {axis} is {found}, {expected} needed"),
            Error::RankMismatch { expected, found } => {
                write!(f, "the tensor has {found} dimensions, {expected} needed")
            }
            Error::MissingTensor => f.write_str("a tensor needed is not in the file"),
            Error::DuplicateName { index } => {
                write!(f, "name {index} given to the writer repeats an earlier one")
            }
            Error::ReservedName { index } => {
                write!(
                    f,
                    "name {index} given to the writer is reserved by the format"
                )
            }
            // PyTorch state_dicts
            Error::UnexpectedTensor { index } => write!(
                f,
                "tensor {index} of the file is not one of the model's state_dict keys"
            ),
            Error::KeyTooLong { capacity } => {
                write!(f, "a state_dict key is longer than {capacity} bytes")
            }
        }
    }
}

impl core::error::Error for Error {}

//! The int8 digits inference of the firmware (`examples/cortex-m`, binary `int8`), shared word
//! for word with the host.
//!
//! This one `no_std` module (it needs only `core` and `constnn`) is what decides the result of
//! the int8 firmware: the model's byte layout ([`encode`], and [`decode`], a `const fn` that
//! turns the bytes into a `static` model at compile time), the input quantization, the forward
//! pass, the argmax and the hash of every output ([`evaluate`]). The firmware includes it
//! (`#[path = "../../../common/int8_run.rs"]`), and so does the host test
//! `tests/int8_on_device_run.rs`, which trains the model as the Cortex-M4F training firmware
//! does (`digits_run::m4f::RUN`), quantizes it with [`quantize`], checks that the result has
//! the bytes of [`MODEL_FILE`] (committed beside this file, `digits_int8.bin`) and that the
//! host's run over the test split gives [`EXPECT`], the values each board must print.
//!
//! The model: `QuantizedOf<(Linear<64, 32>, Relu, Linear<32, 10>)>`, TFLite's int8 arithmetic
//! (`constnn::quant`), calibrated on the first [`CALIBRATION_ROWS`] training images. The input
//! is quantized by a 17-entry table ([`Int8Digits::pixel_table`]): a pixel is one of `0..=16`,
//! so `quantize(NORMALIZED[p])` (TFLite's `QUANTIZE` of the normalized pixel) has 17 possible
//! values, computed once when the model is quantized; inference uses no float at all.

// Each crate that includes this module uses a different part of it.
#![allow(dead_code)]

#[path = "digits_data.rs"]
pub mod data;
#[path = "fnv.rs"]
pub mod fnv;

use constnn::quant::{Calibration, QLinear, QModel, QParams, QRelu, QuantizedOf, argmax_i8};
use constnn::{Batch, Error, Linear, Module, Relu};

pub use data::{CLASSES, MAX_PIXEL, NORMALIZED, PIXELS, Split, TEST_ROWS};

/// The float model that is quantized (the training firmware's).
pub type Mlp = (Linear<PIXELS, 32>, Relu, Linear<32, CLASSES>);

/// Its int8 model: `QModel<(QLinear<64, 32>, QRelu, QLinear<32, 10>)>`.
pub type QMlp = QuantizedOf<Mlp>;

/// Pixel values `0..=MAX_PIXEL`: the length of the input table.
pub const LEVELS: usize = MAX_PIXEL as usize + 1;

/// The int8 digits classifier: the quantized model and its input table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Digits {
    /// `pixel_table[p]` is the int8 input for pixel value `p`:
    /// `model.input.quantize(NORMALIZED[p])`.
    pub pixel_table: [i8; LEVELS],
    /// [`pixel_table`](Self::pixel_table) for every `u8`, values above [`MAX_PIXEL`] taken as
    /// `MAX_PIXEL` ([`lookup_table`]): a look-up with no bounds check nor clamp.
    pub pixel_lookup: [i8; 256],
    /// The int8 model.
    pub model: QMlp,
}

/// Training images (the first ones of the training split, in its order) the activation ranges
/// are calibrated on.
pub const CALIBRATION_ROWS: usize = 300;
/// Calibration batch size.
const CALIBRATION_BATCH: usize = 10;

/// What the int8 run over the test split gives, on the host and on every board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Test images classified correctly, of [`TEST_ROWS`].
    pub test_correct: u16,
    /// FNV-1a (32 bits) over the 10 int8 logits of every test image, in order (as `u8`).
    pub logits_fnv: u32,
}

impl Outcome {
    /// The test accuracy in thousandths, rounded down: `⌊1000 · correct / 450⌋`, without a
    /// division (see `digits_run::Outcome::accuracy_permille`, the same formula).
    pub const fn accuracy_permille(&self) -> u32 {
        const { assert!(TEST_ROWS == 450) };
        (self.test_correct as u32 * 20 * 7282) >> 16
    }

    /// Whether the int8 test accuracy is at least 0.95 (`correct / 450 ≥ 19 / 20`).
    pub const fn passes(&self) -> bool {
        self.test_correct as usize * 20 >= TEST_ROWS * 19
    }
}

/// The outcome the host test pins for [`MODEL_FILE`]; every board must print it.
pub const EXPECT: Outcome = Outcome {
    test_correct: 439,
    logits_fnv: 0x6d19_8248,
};

/// Quantizes a trained float model: calibration on the first [`CALIBRATION_ROWS`] images of
/// `train` (batches of 10, normalized as for training), then [`Calibration::quantize`], then
/// the input table. Fixed-size and allocation-free (a device can re-quantize what it
/// trained); its float operations are the library's, the same bits on every target.
///
/// # Errors
///
/// As [`Calibration::quantize`].
pub fn quantize(model: &Mlp, train: Split<'_>) -> Result<Int8Digits, Error> {
    let mut calibration = Calibration::<Mlp>::new();
    let rows = &train.pixels[..CALIBRATION_ROWS.min(train.pixels.len())];
    for chunk in rows.chunks(CALIBRATION_BATCH) {
        let mut x: Batch<CALIBRATION_BATCH, PIXELS> = [[0.0; PIXELS]; CALIBRATION_BATCH];
        // A short last chunk is topped up from the first rows.
        for (r, xr) in x.iter_mut().enumerate() {
            data::normalize(chunk.get(r).unwrap_or(&rows[r]), xr);
        }
        calibration.observe(model, &x);
    }
    let model = calibration.quantize(model)?;
    let pixel_table = core::array::from_fn(|p| model.input.quantize(NORMALIZED[p]));
    Ok(Int8Digits {
        pixel_table,
        pixel_lookup: lookup_table(&pixel_table),
        model,
    })
}

/// `table` extended to every `u8` (values above [`MAX_PIXEL`] as `MAX_PIXEL`).
pub const fn lookup_table(table: &[i8; LEVELS]) -> [i8; 256] {
    let mut lookup = [0; 256];
    let mut p = 0;
    while p < 256 {
        lookup[p] = table[if p < LEVELS { p } else { LEVELS - 1 }];
        p += 1;
    }
    lookup
}

impl Int8Digits {
    /// The int8 input of one image: a table look-up per pixel (a pixel above
    /// [`MAX_PIXEL`] is taken as `MAX_PIXEL`), four per loop trip (`opt-level = "s"` unrolls
    /// nothing by itself).
    #[inline]
    pub fn quantize_pixels(&self, pixels: &[u8; PIXELS]) -> [i8; PIXELS] {
        let t = &self.pixel_lookup;
        let mut x = [0; PIXELS];
        for (xs, ps) in x
            .as_chunks_mut::<4>()
            .0
            .iter_mut()
            .zip(pixels.as_chunks::<4>().0)
        {
            *xs = [
                t[usize::from(ps[0])],
                t[usize::from(ps[1])],
                t[usize::from(ps[2])],
                t[usize::from(ps[3])],
            ];
        }
        x
    }

    /// The int8 logits of one image: input quantization, then the int8 layers.
    #[inline]
    pub fn logits(&self, pixels: &[u8; PIXELS]) -> [i8; CLASSES] {
        self.model.forward(&[self.quantize_pixels(pixels)])[0]
    }

    /// One image's class and logits: [`logits`](Self::logits), then [`argmax_i8`].
    #[inline]
    pub fn classify(&self, pixels: &[u8; PIXELS]) -> (usize, [i8; CLASSES]) {
        let y = self.logits(pixels);
        (argmax_i8(&y), y)
    }
}

/// Classifies every image of `data` and hashes every logit: the int8 run.
pub fn evaluate(model: &Int8Digits, data: Split<'_>) -> Outcome {
    let mut correct = 0;
    let mut hash = fnv::Fnv1a::<u32>::new();
    for (pixels, &label) in data.pixels.iter().zip(data.labels) {
        let (class, y) = model.classify(pixels);
        correct += u16::from(class == usize::from(label));
        hash.write(&y.map(|v| v as u8));
    }
    Outcome {
        test_correct: correct,
        logits_fnv: hash.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The model's bytes.

/// The first four bytes of a model file.
pub const MAGIC: [u8; 4] = *b"CQ8D";

/// The bytes of one int8 `QLinear<IN, OUT>` in the file: weights (`OUT` rows of `IN` `i8`),
/// then `OUT` `i32` biases (TFLite's, at scale `s_in · s_w[o]`), `OUT` `i32` multipliers,
/// `OUT` `i8` shifts, the output scale (`f32` bits) and zero point (`i8`); little-endian.
pub const fn layer_bytes(inputs: usize, outputs: usize) -> usize {
    inputs * outputs + 9 * outputs + 5
}

/// The bytes of a model file: [`MAGIC`], the input table (17 `i8`), the input scale (`f32`
/// bits) and zero point, then the two layers ([`layer_bytes`]); the first layer has the ReLU
/// fused, the second none. 2782 bytes.
pub const MODEL_BYTES: usize =
    MAGIC.len() + LEVELS + 5 + layer_bytes(PIXELS, 32) + layer_bytes(32, CLASSES);

/// The committed model: [`quantize`] of the Cortex-M4F training firmware's model (the host
/// test checks that the host produces exactly these bytes).
pub const MODEL_FILE: &[u8; MODEL_BYTES] = include_bytes!("digits_int8.bin");

/// Writes the model's bytes (see [`MODEL_BYTES`]).
pub fn encode(m: &Int8Digits) -> [u8; MODEL_BYTES] {
    let mut out = [0u8; MODEL_BYTES];
    let mut w = Writer {
        out: &mut out,
        at: 0,
    };
    w.put(&MAGIC);
    w.put(&m.pixel_table.map(|v| v as u8));
    w.qparams(m.model.input);
    let (l1, _, l2) = &m.model.layers;
    w.layer(l1);
    w.layer(l2);
    debug_assert!(w.at == MODEL_BYTES);
    out
}

struct Writer<'a> {
    out: &'a mut [u8; MODEL_BYTES],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn qparams(&mut self, q: QParams) {
        self.put(&q.scale.to_bits().to_le_bytes());
        self.put(&[q.zero_point as u8]);
    }

    fn layer<const IN: usize, const OUT: usize>(&mut self, l: &QLinear<IN, OUT>) {
        for row in l.weight() {
            self.put(&row.map(|v| v as u8));
        }
        for b in l.bias() {
            self.put(&b.to_le_bytes());
        }
        for m in l.multiplier() {
            self.put(&m.to_le_bytes());
        }
        self.put(&l.shift().map(|v| v as u8));
        self.qparams(l.output());
    }
}

/// Reads a model file, at compile time if asked (`static M: Int8Digits = match decode(…)`).
///
/// # Errors
///
/// [`Error::ScaleOutOfRange`] if the magic is wrong or a layer's parts are invalid
/// ([`QLinear::from_parts`]).
pub const fn decode(bytes: &[u8; MODEL_BYTES]) -> Result<Int8Digits, Error> {
    let mut k = 0;
    while k < MAGIC.len() {
        if bytes[k] != MAGIC[k] {
            return Err(Error::ScaleOutOfRange);
        }
        k += 1;
    }
    let mut at = MAGIC.len();
    let mut pixel_table = [0i8; LEVELS];
    let mut p = 0;
    while p < LEVELS {
        pixel_table[p] = bytes[at + p] as i8;
        p += 1;
    }
    at += LEVELS;
    let input = read_qparams(bytes, at);
    at += 5;
    let (l1, hidden) = match read_layer::<PIXELS, 32>(bytes, at, input, true) {
        Ok(l) => l,
        Err(e) => return Err(e),
    };
    at += layer_bytes(PIXELS, 32);
    let (l2, output) = match read_layer::<32, CLASSES>(bytes, at, hidden, false) {
        Ok(l) => l,
        Err(e) => return Err(e),
    };
    Ok(Int8Digits {
        pixel_table,
        pixel_lookup: lookup_table(&pixel_table),
        model: QModel {
            input,
            output,
            layers: (l1, QRelu, l2),
        },
    })
}

const fn read_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

const fn read_qparams(bytes: &[u8], at: usize) -> QParams {
    QParams {
        scale: f32::from_bits(read_i32(bytes, at) as u32),
        zero_point: bytes[at + 4] as i8,
    }
}

const fn read_layer<const IN: usize, const OUT: usize>(
    bytes: &[u8],
    mut at: usize,
    input: QParams,
    relu: bool,
) -> Result<(QLinear<IN, OUT>, QParams), Error> {
    let mut weight = [[0i8; IN]; OUT];
    let mut o = 0;
    while o < OUT {
        let mut i = 0;
        while i < IN {
            weight[o][i] = bytes[at] as i8;
            at += 1;
            i += 1;
        }
        o += 1;
    }
    let mut bias = [0i32; OUT];
    let mut multiplier = [0i32; OUT];
    let mut shift = [0i8; OUT];
    let mut o = 0;
    while o < OUT {
        bias[o] = read_i32(bytes, at + 4 * o);
        multiplier[o] = read_i32(bytes, at + 4 * (OUT + o));
        shift[o] = bytes[at + 8 * OUT + o] as i8;
        o += 1;
    }
    at += 9 * OUT;
    let output = read_qparams(bytes, at);
    match QLinear::from_parts(weight, bias, multiplier, shift, input, output, relu) {
        Ok(l) => Ok((l, output)),
        Err(e) => Err(e),
    }
}

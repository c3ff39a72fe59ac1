//! Int8 inference: TFLite-compatible quantized layers, post-training quantization of a
//! trained `f32` model, and the float bridges.
//!
//! - [`QLinear`] and [`QRelu`]: int8 layers implementing [`Module`](crate::Module) (inference
//!   only), with TFLite's arithmetic: per-channel symmetric int8 weights, `i32` bias,
//!   asymmetric int8 activations, requantization by a fixed-point multiplier with TFLite's
//!   double rounding ([`fixed_point`]); a ReLU is fused as the clamp at the output zero point.
//! - [`Calibration`] records the activation ranges of the float model on calibration
//!   batches; [`Calibration::quantize`] converts the model ([`Quantize`]) into a [`QModel`],
//!   whose type follows from the float model's: `QuantizedOf<(Linear<64, 32>, Relu,
//!   Linear<32, 10>)>` is `QModel<(QLinear<64, 32>, QRelu, QLinear<32, 10>)>`, 2788 bytes
//!   ([`quantized_bytes`]; 5156 on ARMv7-M and up, whose kernel stores each weight in two
//!   bytes) against 9640 in `f32`.
//! - [`quantize_batch`], [`dequantize_batch`] and [`argmax_i8`] bridge to and from `f32`.
//!
//! Everything is fixed-size and allocation-free, and calibration formats no float, so
//! calibration, conversion and inference all run on a microcontroller.
//!
//! # Examples
//!
//! ```
//! use constnn::quant::{Calibration, QuantizedOf, quantized_bytes};
//! use constnn::{Linear, Module, Params, Relu, XorShiftRng, Zeroed, argmax};
//! use constnn::rand_core::SeedableRng;
//!
//! type Mlp = (Linear<8, 16>, Relu, Linear<16, 4>);
//! let mut model = Mlp::ZERO;
//! model.init(&mut XorShiftRng::seed_from_u64(3));
//! let data: [[f32; 8]; 4] =
//!     core::array::from_fn(|r| core::array::from_fn(|c| ((r * 8 + c) % 7) as f32 / 4.0 - 0.75));
//!
//! let mut calibration = Calibration::<Mlp>::new();
//! calibration.observe(&model, &data); // any number of batches
//! let q: QuantizedOf<Mlp> = calibration.quantize(&model)?;
//! assert_eq!(size_of_val(&q), quantized_bytes::<Mlp>());
//!
//! let classes = q.classify(&q.quantize_input(&data)); // int8 in, class indices out
//! let float = model.forward(&data);
//! let agree = (0..4).filter(|&r| classes[r] == argmax(&float[r])).count();
//! assert!(agree >= 3);
//! # Ok::<(), constnn::Error>(())
//! ```

mod bridge;
mod calibrate;
mod convert;
pub mod fixed_point;
// Compiled (and unit-tested) everywhere; the kernel of the Arm targets with `smlal`.
#[cfg_attr(
    not(all(target_arch = "arm", target_has_atomic = "32")),
    allow(dead_code)
)]
mod kernel_smlal;
mod params;
mod qlinear;
mod qrelu;

pub use bridge::{argmax_i8, dequantize_batch, quantize_batch};
pub use calibrate::{Calibrate, Calibration, Range};
pub use convert::{QModel, Quantize, QuantizedOf, quantized_bytes};
pub use fixed_point::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_fast, quantize_multiplier,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};
pub use params::QParams;
pub use qlinear::QLinear;
pub use qrelu::QRelu;

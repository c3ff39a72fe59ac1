//! A shared reference to a model is a model for inference: `&L` runs `L`'s forward pass.

use crate::module::Module;

/// `&L` is a layer for inference wherever `L` is, so a model kept elsewhere (a pretrained body
/// in a `static`, in flash: see [`const_model!`](crate::const_model)) can be part of a larger
/// model without being copied: `(&BODY, head).forward(&x)`.
///
/// Only [`Module`] is implemented: a shared reference cannot be trained (it has no
/// [`Params`](crate::Params) or [`Backward`](crate::Backward)), so it is frozen by
/// construction. To fine-tune a head on top of it, run `BODY.forward(&x)` and train the head
/// on the features (what `examples/cortex-m`'s fine-tuning firmware does), or copy the body
/// into a [`Frozen`](crate::Frozen) layer of a model in RAM.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Module, Relu, Zeroed};
///
/// static BODY: (Linear<2, 3>, Relu) = (
///     Linear { weight: [[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]], bias: [0.0, 0.0, 1.0] },
///     Relu,
/// );
/// let mut head = Linear::<3, 1>::ZERO;
/// head.weight = [[1.0], [1.0], [1.0]];
/// let x = [[1.0, 1.0]];
/// assert_eq!((&BODY, &head).forward(&x), head.forward(&BODY.forward(&x)));
/// assert_eq!((&BODY, &head).forward(&x), [[3.0]]); // [1, 1, 1] after the ReLU
/// ```
impl<X, L: Module<X> + ?Sized> Module<X> for &L {
    type Output = L::Output;

    fn forward(&self, x: &X) -> L::Output {
        (**self).forward(x)
    }
}

//! Layers: each implements [`Module`](crate::Module), [`Params`](crate::Params) and
//! [`Backward`](crate::Backward), one file each.

/// The `Params` items every layer without trainable parameters shares: an empty `Like`, no
/// trainable parameter, and visitors of trainable slices that visit nothing.
macro_rules! no_trainable_params {
    () => {
        type Like<T: $crate::module::Zeroed + Copy> = ();
        const NUM_PARAMS: usize = 0;

        fn visit_trainable<T: $crate::module::Zeroed + Copy, F: FnMut(&mut [f32], &mut [T])>(
            &mut self,
            _: &mut (),
            _: &mut F,
        ) {
        }

        fn visit_trainable2<T: $crate::module::Zeroed + Copy, U: $crate::module::Zeroed + Copy, F>(
            &mut self,
            _: &mut (),
            _: &mut (),
            _: &mut F,
        ) where
            F: FnMut(&mut [f32], &mut [T], &mut [U]),
        {
        }

        fn visit_like<T: $crate::module::Zeroed + Copy, F: FnMut(&[T])>(_: &(), _: &mut F) {}

        fn visit_like_mut<T: $crate::module::Zeroed + Copy, F: FnMut(&mut [T])>(
            _: &mut (),
            _: &mut F,
        ) {
        }
    };
}

/// `Params` for a layer that stores nothing (an activation): the signature is its name alone.
macro_rules! stateless_params {
    ($layer:ty, $name:literal) => {
        impl $crate::module::Params for $layer {
            $crate::layers::no_trainable_params!();
            const NUM_STORED: usize = 0;
            const SIGNATURE: u64 = $crate::layer_signature($name, &[]);

            fn init<R: rand_core::Rng + ?Sized>(&mut self, _rng: &mut R) {}
            fn visit<F: FnMut(&[f32])>(&self, _f: &mut F) {}
            fn visit_mut<F: FnMut(&mut [f32])>(&mut self, _f: &mut F) {}
        }
    };
}

pub(crate) use {no_trainable_params, stateless_params};

mod batch_norm;
mod borrowed;
mod dropout;
mod frozen;
mod leaky_relu;
mod linear;
mod relu;
mod sigmoid;
mod tanh;

pub use batch_norm::{BatchNorm1d, BatchNormCache, BatchNormParams, EvalStats};
pub use dropout::{DropRate, Dropout, DropoutMask};
pub use frozen::Frozen;
pub use leaky_relu::LeakyRelu;
pub use linear::Linear;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use tanh::Tanh;

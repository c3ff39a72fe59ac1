//! Tuples of layers are sequential models: `(A, B, C)` runs `A`, then `B`, then `C`.
//!
//! One macro implements [`Zeroed`], [`Params`], [`Module`] and [`Backward`] for tuples of 1 to
//! 8 elements. The intermediate batch types are extra type parameters bound through
//! `Output = …`, so each element only has to take its predecessor's output. For the 3-tuple
//! the expansion is, in short:
//!
//! ```text
//! impl<X, Y1, Y2, Y3, A, B, C> Module<X> for (A, B, C)
//! where A: Module<X, Output = Y1>, B: Module<Y1, Output = Y2>, C: Module<Y2, Output = Y3>
//! {
//!     type Output = Y3;
//!     fn forward(&self, x: &X) -> Y3 {
//!         let y = self.0.forward(x);
//!         let y = self.1.forward(&y);
//!         self.2.forward(&y)
//!     }
//! }
//! // Backward: forward_train threads the caches the same way; backward runs 2, 1, 0:
//! //     let d = self.2.backward(&cache.2, dy, &mut grads.2);
//! //     let d = self.1.backward(&cache.1, &d, &mut grads.1);
//! //     self.0.backward(&cache.0, &d, &mut grads.0)
//! // and backward_params / backward_step_params end with the first layer's `_params` variant,
//! // so the model's input gradient is never computed. Params::Like<T> is the tuple of the
//! // elements' Like<T>, and every visitor walks the elements in order.
//! ```
//!
//! Nesting works too: `((Linear<4, 8>, Relu), Linear<8, 3>)` is a model.

use crate::module::{Backward, InputInCache, Module, Params, Zeroed};
use crate::optim::Update;

/// `trains[k]`: whether any of the first `k` of these elements has a trainable parameter.
const fn trains_before(trainable: &[usize]) -> [bool; 8] {
    let mut trains = [false; 8];
    let mut k = 1;
    while k < trainable.len() {
        trains[k] = trains[k - 1] || trainable[k - 1] > 0;
        k += 1;
    }
    trains
}

macro_rules! impl_tuple {
    (
        first: ($F:ident $fi:tt $FY:ident);
        rest: [$(($T:ident $ti:tt $TX:ident $TY:ident))*];
        rev: [$(($R:ident $ri:tt))*];
        out: $Y:ident
    ) => {
        impl<$F: Zeroed, $($T: Zeroed),*> Zeroed for ($F, $($T,)*) {
            const ZERO: Self = ($F::ZERO, $($T::ZERO,)*);
        }

        impl<$F: Params, $($T: Params),*> Params for ($F, $($T,)*) {
            type Like<TY: Zeroed + Copy> = ($F::Like<TY>, $($T::Like<TY>,)*);
            const NUM_PARAMS: usize = $F::NUM_PARAMS $(+ $T::NUM_PARAMS)*;
            const NUM_STORED: usize = $F::NUM_STORED $(+ $T::NUM_STORED)*;
            const NUM_RNG_WORDS: usize = $F::NUM_RNG_WORDS $(+ $T::NUM_RNG_WORDS)*;
            const SIGNATURE: u64 =
                crate::sequence_signature(&[$F::SIGNATURE, $($T::SIGNATURE,)*]);

            fn init<RNG: rand_core::Rng + ?Sized>(&mut self, rng: &mut RNG) {
                self.$fi.init(rng);
                $(self.$ti.init(rng);)*
            }

            fn visit<FN: FnMut(&[f32])>(&self, f: &mut FN) {
                self.$fi.visit(f);
                $(self.$ti.visit(f);)*
            }

            fn visit_mut<FN: FnMut(&mut [f32])>(&mut self, f: &mut FN) {
                self.$fi.visit_mut(f);
                $(self.$ti.visit_mut(f);)*
            }

            fn visit_rng<FN: FnMut(&[u32])>(&self, f: &mut FN) {
                self.$fi.visit_rng(f);
                $(self.$ti.visit_rng(f);)*
            }

            fn visit_rng_mut<FN: FnMut(&mut [u32])>(&mut self, f: &mut FN) {
                self.$fi.visit_rng_mut(f);
                $(self.$ti.visit_rng_mut(f);)*
            }

            fn visit_trainable<TY: Zeroed + Copy, FN: FnMut(&mut [f32], &mut [TY])>(
                &mut self,
                like: &mut Self::Like<TY>,
                f: &mut FN,
            ) {
                self.$fi.visit_trainable(&mut like.$fi, f);
                $(self.$ti.visit_trainable(&mut like.$ti, f);)*
            }

            fn visit_trainable2<TY: Zeroed + Copy, UY: Zeroed + Copy, FN>(
                &mut self,
                a: &mut Self::Like<TY>,
                b: &mut Self::Like<UY>,
                f: &mut FN,
            ) where
                FN: FnMut(&mut [f32], &mut [TY], &mut [UY]),
            {
                self.$fi.visit_trainable2(&mut a.$fi, &mut b.$fi, f);
                $(self.$ti.visit_trainable2(&mut a.$ti, &mut b.$ti, f);)*
            }

            fn visit_like<TY: Zeroed + Copy, FN: FnMut(&[TY])>(like: &Self::Like<TY>, f: &mut FN) {
                $F::visit_like(&like.$fi, f);
                $($T::visit_like(&like.$ti, f);)*
            }

            fn visit_like_mut<TY: Zeroed + Copy, FN: FnMut(&mut [TY])>(
                like: &mut Self::Like<TY>,
                f: &mut FN,
            ) {
                $F::visit_like_mut(&mut like.$fi, f);
                $($T::visit_like_mut(&mut like.$ti, f);)*
            }
        }

        impl<X, $FY, $($TY,)* $F, $($T),*> Module<X> for ($F, $($T,)*)
        where
            $F: Module<X, Output = $FY>,
            $($T: Module<$TX, Output = $TY>,)*
        {
            type Output = $Y;

            fn forward(&self, x: &X) -> $Y {
                let y = self.$fi.forward(x);
                $(let y = self.$ti.forward(&y);)*
                y
            }
        }

        impl<X, $FY, $($TY,)* $F, $($T),*> Backward<X> for ($F, $($T,)*)
        where
            $F: Backward<X, Output = $FY>,
            $($T: Backward<$TX, Output = $TY>,)*
        {
            type Cache = ($F::Cache, $($T::Cache,)*);

            fn forward_train(&mut self, x: &X, cache: &mut Self::Cache) -> $Y {
                let y = self.$fi.forward_train(x, &mut cache.$fi);
                $(let y = self.$ti.forward_train(&y, &mut cache.$ti);)*
                y
            }

            fn backward(&self, cache: &Self::Cache, dy: &$Y, grads: &mut Self::Like<f32>) -> X {
                $(let d = self.$ri.backward(&cache.$ri, dy, &mut grads.$ri); let dy = &d;)*
                self.$fi.backward(&cache.$fi, dy, &mut grads.$fi)
            }

            fn backward_params(&self, cache: &Self::Cache, dy: &$Y, grads: &mut Self::Like<f32>) {
                let trains = const { trains_before(&[$F::NUM_PARAMS, $($T::NUM_PARAMS,)*]) };
                let _ = trains; // unused by a 1-tuple
                $(
                    // Nothing before this layer trains (a frozen body): its input gradient
                    // is never needed. A constant condition: the dead branch is not compiled.
                    if !trains[$ri] {
                        return self.$ri.backward_params(&cache.$ri, dy, &mut grads.$ri);
                    }
                    let d = self.$ri.backward(&cache.$ri, dy, &mut grads.$ri);
                    let dy = &d;
                )*
                self.$fi.backward_params(&cache.$fi, dy, &mut grads.$fi)
            }

            fn backward_input(&self, cache: &Self::Cache, dy: &$Y) -> X {
                $(let d = self.$ri.backward_input(&cache.$ri, dy); let dy = &d;)*
                self.$fi.backward_input(&cache.$fi, dy)
            }

            fn backward_step<UP: Update>(
                &mut self,
                cache: &Self::Cache,
                dy: &$Y,
                update: &UP,
                state: &mut Self::Like<UP::Slot>,
            ) -> X {
                $(let d = self.$ri.backward_step(&cache.$ri, dy, update, &mut state.$ri); let dy = &d;)*
                self.$fi.backward_step(&cache.$fi, dy, update, &mut state.$fi)
            }

            fn backward_step_params<UP: Update>(
                &mut self,
                cache: &Self::Cache,
                dy: &$Y,
                update: &UP,
                state: &mut Self::Like<UP::Slot>,
            ) {
                let trains = const { trains_before(&[$F::NUM_PARAMS, $($T::NUM_PARAMS,)*]) };
                let _ = trains; // unused by a 1-tuple
                $(
                    if !trains[$ri] {
                        return self.$ri.backward_step_params(&cache.$ri, dy, update, &mut state.$ri);
                    }
                    let d = self.$ri.backward_step(&cache.$ri, dy, update, &mut state.$ri);
                    let dy = &d;
                )*
                self.$fi.backward_step_params(&cache.$fi, dy, update, &mut state.$fi)
            }
        }

        impl<X, $FY, $($TY,)* $F, $($T),*> InputInCache<X> for ($F, $($T,)*)
        where
            $F: InputInCache<X, Output = $FY>,
            $($T: Backward<$TX, Output = $TY>,)*
        {
            fn input_mut(cache: &mut Self::Cache) -> &mut X {
                $F::input_mut(&mut cache.$fi)
            }

            fn forward_train_in_place(&mut self, cache: &mut Self::Cache) -> $Y {
                let y = self.$fi.forward_train_in_place(&mut cache.$fi);
                $(let y = self.$ti.forward_train(&y, &mut cache.$ti);)*
                y
            }
        }
    };
}

impl_tuple!(first: (A 0 Y0); rest: []; rev: []; out: Y0);
impl_tuple!(first: (A 0 Y0); rest: [(B 1 Y0 Y1)]; rev: [(B 1)]; out: Y1);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2)];
    rev: [(C 2) (B 1)];
    out: Y2
);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2) (D 3 Y2 Y3)];
    rev: [(D 3) (C 2) (B 1)];
    out: Y3
);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2) (D 3 Y2 Y3) (E 4 Y3 Y4)];
    rev: [(E 4) (D 3) (C 2) (B 1)];
    out: Y4
);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2) (D 3 Y2 Y3) (E 4 Y3 Y4) (G 5 Y4 Y5)];
    rev: [(G 5) (E 4) (D 3) (C 2) (B 1)];
    out: Y5
);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2) (D 3 Y2 Y3) (E 4 Y3 Y4) (G 5 Y4 Y5) (H 6 Y5 Y6)];
    rev: [(H 6) (G 5) (E 4) (D 3) (C 2) (B 1)];
    out: Y6
);
impl_tuple!(
    first: (A 0 Y0);
    rest: [(B 1 Y0 Y1) (C 2 Y1 Y2) (D 3 Y2 Y3) (E 4 Y3 Y4) (G 5 Y4 Y5) (H 6 Y5 Y6) (I 7 Y6 Y7)];
    rev: [(I 7) (H 6) (G 5) (E 4) (D 3) (C 2) (B 1)];
    out: Y7
);

//! Named-struct sequential models: [`sequential!`](crate::sequential).
//!
//! The macro writes the struct, then implements the traits of a model tuple for it, field by
//! field in declaration order. The expansion for `struct Net { a: A, b: B, c: C }` is, in
//! short (with `Y1 = <A as Module<X>>::Output` and `Y2 = <B as Module<Y1>>::Output`, written
//! out as such projections):
//!
//! ```text
//! impl Zeroed for Net { const ZERO: Self = Net { a: A::ZERO, b: B::ZERO, c: C::ZERO }; }
//! impl Params for Net {
//!     type Like<T> = (A::Like<T>, B::Like<T>, C::Like<T>);
//!     const SIGNATURE: u64 = sequence_signature(&[A::SIGNATURE, B::SIGNATURE, C::SIGNATURE]);
//!     …
//! }
//! impl<X> Module<X> for Net where A: Module<X>, B: Module<Y1>, C: Module<Y2> {
//!     type Output = <C as Module<Y2>>::Output;
//!     fn forward(&self, x: &X) -> Self::Output {
//!         let y = self.a.forward(x);
//!         let y = self.b.forward(&y);
//!         self.c.forward(&y)
//!     }
//! }
//! impl<X> Backward<X> for Net where A: Backward<X>, B: Backward<Y1>, C: Backward<Y2> {
//!     type Cache = (A::Cache, B::Cache, C::Cache);
//!     // the bodies of the 3-tuple's impl, with `self.a` for `self.0` (caches, gradients and
//!     // optimizer state stay tuples, indexed 0, 1, 2)
//! }
//! impl<X> InputInCache<X> for Net where A: InputInCache<X>, B: Backward<Y1>, C: Backward<Y2> { … }
//! ```
//!
//! So the model has exactly the traits, caches, gradient and state types, visit order and
//! bits of the tuple `(A, B, C)`.

/// Declares a named-struct sequential model: a struct whose fields are layers, run in
/// declaration order, with the traits of the tuple of those layers.
///
/// ```
/// use constnn::{Batch, BatchNorm1d, Linear, Params, Relu, sequential};
///
/// sequential! {
///     /// The BatchNorm notebook's model.
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub struct Net {
///         pub hidden: Linear<64, 32>,
///         pub norm: BatchNorm1d<32>,
///         pub act: Relu,
///         pub out: Linear<32, 10>,
///     }
/// }
///
/// const _: () = constnn::assert_module::<Batch<10, 64>, Net>();
/// assert_eq!(Net::NUM_PARAMS, 64 * 32 + 32 + 2 * 32 + 32 * 10 + 10);
/// ```
///
/// The struct implements [`Zeroed`](crate::Zeroed), [`Params`](crate::Params),
/// [`Module`](crate::Module), [`Backward`](crate::Backward), and
/// [`InputInCache`](crate::InputInCache) when its first field does (a
/// [`Linear`](crate::Linear)), exactly as the tuple `(Linear<64, 32>, BatchNorm1d<32>, Relu,
/// Linear<32, 10>)` does: the same visit order, caches, gradients ([`GradsOf<Net>`](crate::GradsOf)
/// is that tuple's, indexed `.0` to `.3`), [`SIGNATURE`](crate::Params::SIGNATURE) (weights
/// saved from one load into the other) and bits. Its fields are ordinary fields
/// (`net.hidden.weight`), with the attributes and visibility written on them.
///
/// Widths are checked as for a tuple: a mismatch fails to compile where the model is used,
/// with the layer at fault named. This does not compile (`Linear<33, 10>` after a 32-wide
/// layer):
///
/// ```compile_fail
/// use constnn::{Batch, Linear, Relu, sequential};
///
/// sequential! {
///     struct Net { hidden: Linear<64, 32>, act: Relu, out: Linear<33, 10> }
/// }
/// const _: () = constnn::assert_module::<Batch<1, 64>, Net>();
/// ```
///
/// [`InputInCache`](crate::InputInCache) (training on a batch written into the cache) needs
/// a first layer that keeps its input, as for tuples; this does not compile:
///
/// ```compile_fail
/// use constnn::{Batch, Linear, Relu, Sgd, Trainer, sequential};
///
/// sequential! {
///     struct Net { act: Relu, out: Linear<4, 2> }
/// }
/// let mut trainer: Trainer<Net, Batch<2, 4>, Sgd> = Trainer::new(Sgd::new(0.1).unwrap());
/// let _ = trainer.input_mut();
/// ```
///
/// The struct takes 1 to 8 fields (as tuples do) and no generic parameters; a field can
/// itself be a tuple or another `sequential!` model, for deeper networks. Nine fields are a
/// compile error saying so:
///
/// ```compile_fail
/// use constnn::{Relu, sequential};
///
/// sequential! {
///     struct Deep { a: Relu, b: Relu, c: Relu, d: Relu, e: Relu, f: Relu, g: Relu, h: Relu, i: Relu }
/// }
/// ```
#[macro_export]
macro_rules! sequential {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fattr:meta])* $fvis:vis $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $( $(#[$fattr])* $fvis $field: $ty, )+
        }

        $crate::__sequential_impl! {
            @index $name; [ $( ($field, $ty) )+ ]; [0 1 2 3 4 5 6 7]; []
        }

        $crate::__sequential_state_dict! { $name; $( ($field, $ty) )+ }
    };
}

/// The [`StateDict`](crate::StateDict) impl of a [`sequential!`] struct: each field's keys
/// under `"{field}."`, as a PyTorch module with named submodules. Not public API.
///
/// The bounds are written `for<'__sd> T: StateDict` so that they are not global: a struct
/// with a layer that has no `StateDict` impl still compiles, only without this impl.
#[doc(hidden)]
#[macro_export]
macro_rules! __sequential_state_dict {
    ($name:ident; $( ($field:ident, $T:ty) )+) => {
        impl $crate::StateDict for $name
        where
            $(for<'__sd> $T: $crate::StateDict,)+
        {
            const LAYOUT: $crate::format::torch::StateLayout =
                $crate::format::torch::StateLayout::EMPTY
                    $(.child(::core::stringify!($field), <$T as $crate::StateDict>::LAYOUT))+;

            fn visit_state<__F>(
                &self,
                key: &mut $crate::format::torch::Key,
                f: &mut __F,
            ) -> ::core::result::Result<(), $crate::Error>
            where
                __F: ::core::ops::FnMut(
                    &$crate::format::torch::Key,
                    $crate::format::torch::Layout,
                    &[f32],
                ) -> ::core::result::Result<(), $crate::Error>,
            {
                $(key.scoped(::core::concat!(::core::stringify!($field), "."), |k| {
                    <$T as $crate::StateDict>::visit_state(&self.$field, k, f)
                })?;)+
                ::core::result::Result::Ok(())
            }

            fn visit_state_mut<__F>(
                &mut self,
                key: &mut $crate::format::torch::Key,
                f: &mut __F,
            ) -> ::core::result::Result<(), $crate::Error>
            where
                __F: ::core::ops::FnMut(
                    &$crate::format::torch::Key,
                    $crate::format::torch::Layout,
                    &mut [f32],
                ) -> ::core::result::Result<(), $crate::Error>,
            {
                $(key.scoped(::core::concat!(::core::stringify!($field), "."), |k| {
                    <$T as $crate::StateDict>::visit_state_mut(&mut self.$field, k, f)
                })?;)+
                ::core::result::Result::Ok(())
            }
        }
    };
}

/// The implementation of [`sequential!`]: not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __sequential_impl {
    // Pairs each field with its tuple index.
    (@index $name:ident; [($f:ident, $T:ty) $($rest:tt)*]; [$i:tt $($is:tt)*]; [$($acc:tt)*]) => {
        $crate::__sequential_impl! {
            @index $name; [$($rest)*]; [$($is)*]; [$($acc)* ($f, $T, $i)]
        }
    };
    (@index $name:ident; []; [$($is:tt)*]; [$($acc:tt)*]) => {
        $crate::__sequential_impl! { @chain $name; __X; [$($acc)*]; [] }
    };
    (@index $name:ident; [$($rest:tt)+]; []; [$($acc:tt)*]) => {
        ::core::compile_error!(
            "sequential! takes 1 to 8 fields: group layers into tuples or nested sequential! \
             structs for more"
        );
    };

    // Attaches each field's input type: the model's input `__X` for the first field, then the
    // previous field's output.
    (@chain $name:ident; $cur:ty; [($f:ident, $T:ty, $i:tt) $($rest:tt)*]; [$($acc:tt)*]) => {
        $crate::__sequential_impl! {
            @chain $name; <$T as $crate::Module<$cur>>::Output; [$($rest)*];
            [$($acc)* ($f, $T, $i, $cur)]
        }
    };
    (@chain $name:ident; $out:ty; []; [$first:tt $($rest:tt)*]) => {
        $crate::__sequential_impl! { @rev $name; $out; $first; [$($rest)*]; [$($rest)*]; [] }
    };

    // Reverses the fields after the first (the backward order).
    (@rev $name:ident; $out:ty; $first:tt; [$($rest:tt)*]; [$next:tt $($todo:tt)*]; [$($rev:tt)*]) => {
        $crate::__sequential_impl! {
            @rev $name; $out; $first; [$($rest)*]; [$($todo)*]; [$next $($rev)*]
        }
    };
    (@rev $name:ident; $out:ty; $first:tt; [$($rest:tt)*]; []; [$($rev:tt)*]) => {
        $crate::__sequential_impl! { @impl $name; $out; $first; [$($rest)*]; [$($rev)*] }
    };

    (
        @impl $name:ident; $Out:ty;
        ($f0:ident, $T0:ty, $i0:tt, $In0:ty);
        [$(($f:ident, $T:ty, $i:tt, $In:ty))*];
        [$(($rf:ident, $rT:ty, $ri:tt, $rIn:ty))*]
    ) => {
        impl $crate::Zeroed for $name {
            const ZERO: Self = Self {
                $f0: <$T0 as $crate::Zeroed>::ZERO,
                $($f: <$T as $crate::Zeroed>::ZERO,)*
            };
        }

        impl $crate::Params for $name {
            type Like<__T: $crate::Zeroed + ::core::marker::Copy> = (
                <$T0 as $crate::Params>::Like<__T>,
                $(<$T as $crate::Params>::Like<__T>,)*
            );
            const NUM_PARAMS: usize =
                <$T0 as $crate::Params>::NUM_PARAMS $(+ <$T as $crate::Params>::NUM_PARAMS)*;
            const NUM_STORED: usize =
                <$T0 as $crate::Params>::NUM_STORED $(+ <$T as $crate::Params>::NUM_STORED)*;
            const NUM_RNG_WORDS: usize = <$T0 as $crate::Params>::NUM_RNG_WORDS
                $(+ <$T as $crate::Params>::NUM_RNG_WORDS)*;
            const SIGNATURE: u64 = $crate::sequence_signature(&[
                <$T0 as $crate::Params>::SIGNATURE,
                $(<$T as $crate::Params>::SIGNATURE,)*
            ]);

            fn init<__R: $crate::rand_core::Rng + ?::core::marker::Sized>(&mut self, rng: &mut __R) {
                <$T0 as $crate::Params>::init(&mut self.$f0, rng);
                $(<$T as $crate::Params>::init(&mut self.$f, rng);)*
            }

            fn visit<__F: ::core::ops::FnMut(&[f32])>(&self, f: &mut __F) {
                <$T0 as $crate::Params>::visit(&self.$f0, f);
                $(<$T as $crate::Params>::visit(&self.$f, f);)*
            }

            fn visit_mut<__F: ::core::ops::FnMut(&mut [f32])>(&mut self, f: &mut __F) {
                <$T0 as $crate::Params>::visit_mut(&mut self.$f0, f);
                $(<$T as $crate::Params>::visit_mut(&mut self.$f, f);)*
            }

            fn visit_rng<__F: ::core::ops::FnMut(&[u32])>(&self, f: &mut __F) {
                <$T0 as $crate::Params>::visit_rng(&self.$f0, f);
                $(<$T as $crate::Params>::visit_rng(&self.$f, f);)*
            }

            fn visit_rng_mut<__F: ::core::ops::FnMut(&mut [u32])>(&mut self, f: &mut __F) {
                <$T0 as $crate::Params>::visit_rng_mut(&mut self.$f0, f);
                $(<$T as $crate::Params>::visit_rng_mut(&mut self.$f, f);)*
            }

            fn visit_trainable<__T, __F>(&mut self, like: &mut Self::Like<__T>, f: &mut __F)
            where
                __T: $crate::Zeroed + ::core::marker::Copy,
                __F: ::core::ops::FnMut(&mut [f32], &mut [__T]),
            {
                <$T0 as $crate::Params>::visit_trainable(&mut self.$f0, &mut like.$i0, f);
                $(<$T as $crate::Params>::visit_trainable(&mut self.$f, &mut like.$i, f);)*
            }

            fn visit_trainable2<__T, __U, __F>(
                &mut self,
                a: &mut Self::Like<__T>,
                b: &mut Self::Like<__U>,
                f: &mut __F,
            ) where
                __T: $crate::Zeroed + ::core::marker::Copy,
                __U: $crate::Zeroed + ::core::marker::Copy,
                __F: ::core::ops::FnMut(&mut [f32], &mut [__T], &mut [__U]),
            {
                <$T0 as $crate::Params>::visit_trainable2(&mut self.$f0, &mut a.$i0, &mut b.$i0, f);
                $(<$T as $crate::Params>::visit_trainable2(&mut self.$f, &mut a.$i, &mut b.$i, f);)*
            }

            fn visit_like<__T, __F>(like: &Self::Like<__T>, f: &mut __F)
            where
                __T: $crate::Zeroed + ::core::marker::Copy,
                __F: ::core::ops::FnMut(&[__T]),
            {
                <$T0 as $crate::Params>::visit_like(&like.$i0, f);
                $(<$T as $crate::Params>::visit_like(&like.$i, f);)*
            }

            fn visit_like_mut<__T, __F>(like: &mut Self::Like<__T>, f: &mut __F)
            where
                __T: $crate::Zeroed + ::core::marker::Copy,
                __F: ::core::ops::FnMut(&mut [__T]),
            {
                <$T0 as $crate::Params>::visit_like_mut(&mut like.$i0, f);
                $(<$T as $crate::Params>::visit_like_mut(&mut like.$i, f);)*
            }
        }

        impl<__X> $crate::Module<__X> for $name
        where
            $T0: $crate::Module<__X>,
            $($T: $crate::Module<$In>,)*
        {
            type Output = $Out;

            fn forward(&self, x: &__X) -> $Out {
                let y = <$T0 as $crate::Module<__X>>::forward(&self.$f0, x);
                $(let y = <$T as $crate::Module<$In>>::forward(&self.$f, &y);)*
                y
            }
        }

        impl<__X> $crate::Backward<__X> for $name
        where
            $T0: $crate::Backward<__X>,
            $($T: $crate::Backward<$In>,)*
        {
            type Cache = (
                <$T0 as $crate::Backward<__X>>::Cache,
                $(<$T as $crate::Backward<$In>>::Cache,)*
            );

            fn forward_train(&mut self, x: &__X, cache: &mut Self::Cache) -> $Out {
                let y = <$T0 as $crate::Backward<__X>>::forward_train(
                    &mut self.$f0, x, &mut cache.$i0,
                );
                $(let y = <$T as $crate::Backward<$In>>::forward_train(
                    &mut self.$f, &y, &mut cache.$i,
                );)*
                y
            }

            fn backward(
                &self,
                cache: &Self::Cache,
                dy: &$Out,
                grads: &mut <Self as $crate::Params>::Like<f32>,
            ) -> __X {
                $(
                    let d = <$rT as $crate::Backward<$rIn>>::backward(
                        &self.$rf, &cache.$ri, dy, &mut grads.$ri,
                    );
                    let dy = &d;
                )*
                <$T0 as $crate::Backward<__X>>::backward(&self.$f0, &cache.$i0, dy, &mut grads.$i0)
            }

            fn backward_params(
                &self,
                cache: &Self::Cache,
                dy: &$Out,
                grads: &mut <Self as $crate::Params>::Like<f32>,
            ) {
                $(
                    let d = <$rT as $crate::Backward<$rIn>>::backward(
                        &self.$rf, &cache.$ri, dy, &mut grads.$ri,
                    );
                    let dy = &d;
                )*
                <$T0 as $crate::Backward<__X>>::backward_params(
                    &self.$f0, &cache.$i0, dy, &mut grads.$i0,
                )
            }

            fn backward_input(&self, cache: &Self::Cache, dy: &$Out) -> __X {
                $(
                    let d = <$rT as $crate::Backward<$rIn>>::backward_input(
                        &self.$rf, &cache.$ri, dy,
                    );
                    let dy = &d;
                )*
                <$T0 as $crate::Backward<__X>>::backward_input(&self.$f0, &cache.$i0, dy)
            }

            fn backward_step<__U: $crate::Update>(
                &mut self,
                cache: &Self::Cache,
                dy: &$Out,
                update: &__U,
                state: &mut <Self as $crate::Params>::Like<__U::Slot>,
            ) -> __X {
                $(
                    let d = <$rT as $crate::Backward<$rIn>>::backward_step(
                        &mut self.$rf, &cache.$ri, dy, update, &mut state.$ri,
                    );
                    let dy = &d;
                )*
                <$T0 as $crate::Backward<__X>>::backward_step(
                    &mut self.$f0, &cache.$i0, dy, update, &mut state.$i0,
                )
            }

            fn backward_step_params<__U: $crate::Update>(
                &mut self,
                cache: &Self::Cache,
                dy: &$Out,
                update: &__U,
                state: &mut <Self as $crate::Params>::Like<__U::Slot>,
            ) {
                $(
                    let d = <$rT as $crate::Backward<$rIn>>::backward_step(
                        &mut self.$rf, &cache.$ri, dy, update, &mut state.$ri,
                    );
                    let dy = &d;
                )*
                <$T0 as $crate::Backward<__X>>::backward_step_params(
                    &mut self.$f0, &cache.$i0, dy, update, &mut state.$i0,
                )
            }
        }

        impl<__X> $crate::InputInCache<__X> for $name
        where
            $T0: $crate::InputInCache<__X>,
            $($T: $crate::Backward<$In>,)*
        {
            fn input_mut(cache: &mut Self::Cache) -> &mut __X {
                <$T0 as $crate::InputInCache<__X>>::input_mut(&mut cache.$i0)
            }

            fn forward_train_in_place(&mut self, cache: &mut Self::Cache) -> $Out {
                let y = <$T0 as $crate::InputInCache<__X>>::forward_train_in_place(
                    &mut self.$f0, &mut cache.$i0,
                );
                $(let y = <$T as $crate::Backward<$In>>::forward_train(
                    &mut self.$f, &y, &mut cache.$i,
                );)*
                y
            }
        }
    };
}

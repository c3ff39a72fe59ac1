//! A layer that is used and saved but never trained.

use crate::module::{Backward, InputInCache, Module, Params, Zeroed};
use crate::optim::Update;

/// A layer (or a whole sub-model) whose parameters are used and saved but never updated.
///
/// `Frozen<L>` runs `L`'s forward pass, and its backward pass only computes the input gradient
/// (through [`Backward::backward_input`]); it has no trainable parameter, so it has no
/// gradient and no optimizer state bytes ([`Params::Like`] is `()`). As the first layer of a
/// model it costs nothing in the backward pass: the model's input gradient is never needed.
/// Its values are still stored ([`Params::visit`]), so saving and loading a model includes
/// them. [`Params::init`] initializes the wrapped layer like any other (load pretrained
/// weights after it).
///
/// The usual on-device workflow: keep a pretrained body, fine-tune the head.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Frozen, Linear, Params, Relu, Sgd, Trainer, CrossEntropy, StateOf, Zeroed};
/// use constnn::rand_core::SeedableRng;
///
/// type Net = (Frozen<(Linear<4, 8>, Relu)>, Linear<8, 3>);
/// let mut net = Net::ZERO;
/// net.init(&mut constnn::XorShiftRng::seed_from_u64(0));
/// assert_eq!(Net::NUM_PARAMS, 8 * 3 + 3); // only the head trains
/// assert_eq!(Net::NUM_STORED, 4 * 8 + 8 + 8 * 3 + 3); // but everything is saved
///
/// let body = net.0;
/// let mut trainer: Trainer<Net, Batch<2, 4>, Sgd> = Trainer::new(Sgd::new(0.1)?);
/// trainer.step(&mut net, &[[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.5, 0.5]], &CrossEntropy, &[0, 2])?;
/// assert_eq!(net.0, body); // the body's bits never change
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Frozen<L>(pub L);

impl<L: Zeroed> Zeroed for Frozen<L> {
    const ZERO: Self = Frozen(L::ZERO);
}

impl<L: Params> Params for Frozen<L> {
    type Like<T: Zeroed + Copy> = ();
    const NUM_PARAMS: usize = 0;
    const NUM_STORED: usize = L::NUM_STORED;
    const NUM_RNG_WORDS: usize = L::NUM_RNG_WORDS;
    /// The inner layer's: freezing changes how a layer trains, not what it stores.
    const SIGNATURE: u64 = L::SIGNATURE;

    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R) {
        self.0.init(rng);
    }

    fn visit<F: FnMut(&[f32])>(&self, f: &mut F) {
        self.0.visit(f);
    }

    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, f: &mut F) {
        self.0.visit_mut(f);
    }

    fn visit_rng<F: FnMut(&[u32])>(&self, f: &mut F) {
        self.0.visit_rng(f);
    }

    fn visit_rng_mut<F: FnMut(&mut [u32])>(&mut self, f: &mut F) {
        self.0.visit_rng_mut(f);
    }

    fn visit_trainable<T: Zeroed + Copy, F: FnMut(&mut [f32], &mut [T])>(
        &mut self,
        _: &mut (),
        _: &mut F,
    ) {
    }

    fn visit_trainable2<T: Zeroed + Copy, U: Zeroed + Copy, F>(
        &mut self,
        _: &mut (),
        _: &mut (),
        _: &mut F,
    ) where
        F: FnMut(&mut [f32], &mut [T], &mut [U]),
    {
    }

    fn visit_like<T: Zeroed + Copy, F: FnMut(&[T])>(_: &(), _: &mut F) {}

    fn visit_like_mut<T: Zeroed + Copy, F: FnMut(&mut [T])>(_: &mut (), _: &mut F) {}
}

impl<X, L: Module<X>> Module<X> for Frozen<L> {
    type Output = L::Output;

    fn forward(&self, x: &X) -> L::Output {
        self.0.forward(x)
    }
}

impl<X, L: Backward<X>> Backward<X> for Frozen<L> {
    type Cache = L::Cache;

    fn forward_train(&mut self, x: &X, cache: &mut L::Cache) -> L::Output {
        self.0.forward_train(x, cache)
    }

    fn backward(&self, cache: &L::Cache, dy: &L::Output, _: &mut ()) -> X {
        self.0.backward_input(cache, dy)
    }

    fn backward_params(&self, _: &L::Cache, _: &L::Output, _: &mut ()) {}

    fn backward_input(&self, cache: &L::Cache, dy: &L::Output) -> X {
        self.0.backward_input(cache, dy)
    }

    fn backward_step<U: Update>(
        &mut self,
        cache: &L::Cache,
        dy: &L::Output,
        _: &U,
        _: &mut (),
    ) -> X {
        self.0.backward_input(cache, dy)
    }

    fn backward_step_params<U: Update>(&mut self, _: &L::Cache, _: &L::Output, _: &U, _: &mut ()) {}
}

impl<X, L: InputInCache<X>> InputInCache<X> for Frozen<L> {
    fn input_mut(cache: &mut L::Cache) -> &mut X {
        L::input_mut(cache)
    }

    fn forward_train_in_place(&mut self, cache: &mut L::Cache) -> L::Output {
        self.0.forward_train_in_place(cache)
    }
}

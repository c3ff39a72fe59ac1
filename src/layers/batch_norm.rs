//! Batch normalization over the batch dimension, per feature.

use crate::error::{Error, Hyperparameter};
use crate::float::sqrtf;
use crate::module::{Backward, Batch, Module, Params, Zeroed};
use crate::optim::Update;

/// Which statistics [`BatchNorm1d`]'s inference ([`Module::forward`]) normalizes by.
///
/// Training ([`Backward::forward_train`]) always normalizes by the batch's own statistics and
/// always updates the running ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum EvalStats {
    /// The running mean and variance accumulated in training: PyTorch's `model.eval()`. The
    /// default: an output depends on its own input only, so one sample at a time (the usual
    /// on-device inference) gives the same result as any batch containing it.
    #[default]
    Running,
    /// The evaluated batch's own mean and biased variance, exactly as in training (and
    /// without updating the running statistics): what the series' BatchNorm notebook does (it
    /// keeps no running statistics and evaluates a whole split as one batch). Each output then
    /// depends on the other rows of the batch: a batch of one row normalizes to `β`, so
    /// evaluate large batches (a whole split) in this mode.
    Batch,
}

/// The trainable parameters of a [`BatchNorm1d<N>`], or a `T` for each of them: the layer's
/// [`Params::Like`] (its gradients are `BatchNormParams<N>`, its optimizer state
/// `BatchNormParams<N, [f32; K]>`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormParams<const N: usize, T = f32> {
    /// Per-feature scale `γ` (PyTorch's `weight`).
    pub gamma: [T; N],
    /// Per-feature shift `β` (PyTorch's `bias`).
    pub beta: [T; N],
}

impl<const N: usize, T: Zeroed> Zeroed for BatchNormParams<N, T> {
    const ZERO: Self = Self {
        gamma: Zeroed::ZERO,
        beta: Zeroed::ZERO,
    };
}

/// Batch normalization of `N` features: `y = γ · (x − mean) / sqrt(var + eps) + β`, per
/// feature, over the rows of the batch. PyTorch's `nn.BatchNorm1d(N)` on `(B, N)` inputs.
///
/// - **Training** ([`Backward::forward_train`]): `mean` and `var` are the batch's, `var` the
///   *biased* one (`Σ(x − mean)² / B`). The running statistics are then updated as PyTorch
///   does, with `momentum = 0.1` by default: `running_mean ← (1 − m)·running_mean + m·mean`
///   and `running_var ← (1 − m)·running_var + m·var_unbiased`, where the running variance
///   takes the *unbiased* batch variance `Σ(x − mean)² / (B − 1)`. A training batch needs at
///   least 2 rows (a compile-time check: one row has no variance). A training step that fails
///   after its forward pass (a non-finite loss, say) has updated the running statistics, as
///   in PyTorch.
/// - **Inference** ([`Module::forward`], `&self`: it changes nothing): by default the running
///   statistics (PyTorch's eval mode, [`EvalStats::Running`]); or, with
///   [`with_eval_stats`](BatchNorm1d::with_eval_stats)`(`[`EvalStats::Batch`]`)`, the
///   evaluated batch's own statistics, as the series' notebook does. Evaluating mid-training
///   is `model.forward(&x)`, which neither touches the running statistics nor changes the
///   training that follows (not [`Trainer::forward_in_place`](crate::Trainer::forward_in_place),
///   which runs the training pass).
///
/// `γ` and `β` (`2·N` values) are the trainable parameters, trained by whatever optimizer the
/// model uses ([`Params::Like`] is [`BatchNormParams<N, T>`]). The running statistics are
/// state, not parameters: they have no gradient and no optimizer state, but they are stored
/// ([`Params::visit`] walks `γ`, `β`, `running_mean`, `running_var`, PyTorch's `state_dict`
/// order; [`NUM_STORED`](Params::NUM_STORED) is `4·N`), so saving a model saves them.
///
/// The backward pass is the full batch-norm gradient (through the batch mean and variance,
/// not the per-sample one): with `x̂ = (x − mean)/sqrt(var + eps)`,
/// `dβ = Σ_b dy`, `dγ = Σ_b dy·x̂` and
/// `dx = γ/(B·sqrt(var + eps)) · (B·dy − dβ − x̂·dγ)`.
///
/// The batch mean and variance come from the corrected two-pass algorithm (a first mean,
/// its correction from the deviations, then the squared deviations), so a feature far from 0
/// with a small spread keeps its precision in `f32`. Every sum runs over the rows in order,
/// the square root is exact and the arithmetic is IEEE `f32`, so the bits are the same on
/// every target.
///
/// # Memory
///
/// The layer is `16·N + 12` bytes (`γ`, `β`, the running mean and variance, `eps`, the
/// momentum and the evaluation mode). Its training cache is `x̂` and `1/sqrt(var + eps)`,
/// `4·B·N + 4·N` bytes ([`BatchNormCache`]).
///
/// # The notebook's constants
///
/// [`ZERO`](Zeroed::ZERO), [`new`](BatchNorm1d::new), [`Default`] and [`Params::init`] give
/// PyTorch's fresh layer: `γ = 1`, `β = 0`, running mean 0, running variance 1, `eps = 1e-5`,
/// momentum 0.1, [`EvalStats::Running`]. (Not all zero: `γ = 0` would be a dead layer.) The
/// notebook's demo values, `±1.2247448677` for the rows `[0..4], [5..9], [10..14]`, are
/// `sqrt(3/2)` shrunk by an `eps` of `1e-7`; PyTorch's `1e-5` gives `±1.2247445`.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, BatchNorm1d, Module, Zeroed};
///
/// let mut bn = BatchNorm1d::<2>::new();
/// let x = [[1.0, 10.0], [3.0, 10.0]];
/// let mut cache = Zeroed::ZERO;
/// let y = bn.forward_train(&x, &mut cache);
/// assert!((y[0][0] + 1.0).abs() < 1e-5 && (y[1][0] - 1.0).abs() < 1e-5);
/// assert_eq!(y[0][1], 0.0); // a constant feature normalizes to β
/// // Running statistics after one step: 0.9·0 + 0.1·mean, 0.9·1 + 0.1·unbiased variance.
/// assert_eq!(bn.running_mean, [0.2, 1.0]);
/// assert_eq!(bn.running_var, [1.1, 0.9]);
///
/// // Inference uses the running statistics: (1 − 0.2) / sqrt(1.1 + 1e-5).
/// assert!((bn.forward(&[[1.0, 10.0]])[0][0] - 0.762767).abs() < 1e-6);
/// ```
///
/// A batch of one row does not compile for training:
///
/// ```compile_fail
/// use constnn::{Backward, BatchNorm1d, Zeroed};
///
/// let mut bn = BatchNorm1d::<2>::new();
/// let mut cache = Zeroed::ZERO;
/// bn.forward_train(&[[1.0, 2.0]], &mut cache);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm1d<const N: usize> {
    /// Per-feature scale `γ` (PyTorch's `weight`), trained.
    pub gamma: [f32; N],
    /// Per-feature shift `β` (PyTorch's `bias`), trained.
    pub beta: [f32; N],
    /// The running mean, updated by every training forward pass; stored, not trained.
    pub running_mean: [f32; N],
    /// The running (unbiased) variance, updated by every training forward pass; stored, not
    /// trained.
    pub running_var: [f32; N],
    eps: f32,
    momentum: f32,
    eval: EvalStats,
}

/// [`BatchNorm1d`]'s training cache: what the backward pass needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormCache<const B: usize, const N: usize> {
    /// The normalized input `x̂ = (x − mean) / sqrt(var + eps)`.
    pub xhat: Batch<B, N>,
    /// `1 / sqrt(var + eps)` per feature.
    pub inv_std: [f32; N],
}

impl<const B: usize, const N: usize> Zeroed for BatchNormCache<B, N> {
    const ZERO: Self = Self {
        xhat: Zeroed::ZERO,
        inv_std: Zeroed::ZERO,
    };
}

impl<const N: usize> BatchNorm1d<N> {
    /// PyTorch's default `eps`.
    pub const DEFAULT_EPS: f32 = 1e-5;
    /// PyTorch's default momentum of the running statistics.
    pub const DEFAULT_MOMENTUM: f32 = 0.1;

    /// PyTorch's fresh layer: `γ = 1`, `β = 0`, running mean 0, running variance 1,
    /// `eps = 1e-5`, momentum 0.1, inference on the running statistics.
    pub const fn new() -> Self {
        Self {
            gamma: [1.0; N],
            beta: [0.0; N],
            running_mean: [0.0; N],
            running_var: [1.0; N],
            eps: Self::DEFAULT_EPS,
            momentum: Self::DEFAULT_MOMENTUM,
            eval: EvalStats::Running,
        }
    }

    /// The same layer with another `eps` (added to the variance before the square root).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(`[`Hyperparameter::Epsilon`]`)` unless `eps` is finite
    /// and `> 0`.
    pub const fn with_eps(mut self, eps: f32) -> Result<Self, Error> {
        if eps.is_finite() && eps > 0.0 {
            self.eps = eps;
            Ok(self)
        } else {
            Err(Error::InvalidHyperparameter(Hyperparameter::Epsilon))
        }
    }

    /// The same layer with another momentum of the running statistics (`0` freezes them,
    /// `1` keeps the last batch's only).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(`[`Hyperparameter::NormMomentum`]`)` unless
    /// `0 ≤ momentum ≤ 1`.
    pub const fn with_momentum(mut self, momentum: f32) -> Result<Self, Error> {
        if momentum >= 0.0 && momentum <= 1.0 {
            self.momentum = momentum;
            Ok(self)
        } else {
            Err(Error::InvalidHyperparameter(Hyperparameter::NormMomentum))
        }
    }

    /// The same layer with inference on other statistics (see [`EvalStats`]).
    pub const fn with_eval_stats(mut self, eval: EvalStats) -> Self {
        self.eval = eval;
        self
    }

    /// `eps`.
    pub const fn eps(&self) -> f32 {
        self.eps
    }

    /// The momentum of the running statistics.
    pub const fn momentum(&self) -> f32 {
        self.momentum
    }

    /// The statistics inference normalizes by.
    pub const fn eval_stats(&self) -> EvalStats {
        self.eval
    }

    /// The batch's statistics per feature, by the corrected two-pass algorithm (Chan, Golub
    /// and LeVeque): a first mean `m = Σx / B`, its correction `r = Σ(x − m) / B`, then
    /// `Σ(x − m − r)²`. The deviations `x − m − r` keep their precision however far the mean
    /// is from 0 (a plain `x − m` carries the rounding of `m`, which is large against a small
    /// spread: `ulp(mean) / σ` relative).
    fn batch_stats<const B: usize>(&self, x: &Batch<B, N>) -> Stats<N> {
        let rows = B as f32;
        let mut m = [0.0f32; N];
        for row in x {
            for (m, &v) in m.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut m {
            *m /= rows;
        }
        let mut r = [0.0f32; N];
        for row in x {
            for ((r, &v), &m) in r.iter_mut().zip(row).zip(&m) {
                *r += v - m;
            }
        }
        for r in &mut r {
            *r /= rows;
        }
        let mut sq = [0.0f32; N];
        for row in x {
            for n in 0..N {
                let d = (row[n] - m[n]) - r[n];
                sq[n] += d * d;
            }
        }
        let mut inv_std = [0.0f32; N];
        for (i, &s) in inv_std.iter_mut().zip(&sq) {
            *i = 1.0 / sqrtf(s / rows + self.eps);
        }
        Stats { m, r, inv_std, sq }
    }

    /// `y = γ · ((x − m) − r) · inv_std + β`, and the normalized input into `xhat` if given.
    fn normalize<const B: usize>(
        &self,
        x: &Batch<B, N>,
        m: &[f32; N],
        r: &[f32; N],
        inv_std: &[f32; N],
        mut xhat: Option<&mut Batch<B, N>>,
    ) -> Batch<B, N> {
        let mut y = *x;
        for (b, row) in y.iter_mut().enumerate() {
            for (n, v) in row.iter_mut().enumerate() {
                let h = ((*v - m[n]) - r[n]) * inv_std[n];
                if let Some(xhat) = xhat.as_deref_mut() {
                    xhat[b][n] = h;
                }
                *v = self.gamma[n] * h + self.beta[n];
            }
        }
        y
    }

    /// `(dγ, dβ)` from the cache and the output gradient.
    fn param_grads<const B: usize>(
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
    ) -> ([f32; N], [f32; N]) {
        let mut dgamma = [0.0f32; N];
        let mut dbeta = [0.0f32; N];
        for (dr, hr) in dy.iter().zip(&cache.xhat) {
            for n in 0..N {
                dgamma[n] += dr[n] * hr[n];
                dbeta[n] += dr[n];
            }
        }
        (dgamma, dbeta)
    }

    /// `dx = γ·inv_std/B · (B·dy − dβ − x̂·dγ)`, with the current `γ`.
    fn input_grad<const B: usize>(
        &self,
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
        dgamma: &[f32; N],
        dbeta: &[f32; N],
    ) -> Batch<B, N> {
        let rows = B as f32;
        let mut k = [0.0f32; N];
        for (n, k) in k.iter_mut().enumerate() {
            *k = self.gamma[n] * cache.inv_std[n] / rows;
        }
        let mut dx = *dy;
        for (dr, hr) in dx.iter_mut().zip(&cache.xhat) {
            for n in 0..N {
                dr[n] = k[n] * (rows * dr[n] - dbeta[n] - hr[n] * dgamma[n]);
            }
        }
        dx
    }
}

/// A batch's statistics per feature (see [`BatchNorm1d::batch_stats`]): the mean is `m + r`.
struct Stats<const N: usize> {
    /// The first mean, `Σx / B`.
    m: [f32; N],
    /// Its correction, `Σ(x − m) / B`.
    r: [f32; N],
    /// `1 / sqrt(Σ(x − m − r)² / B + eps)`.
    inv_std: [f32; N],
    /// `Σ(x − m − r)²`.
    sq: [f32; N],
}

impl<const N: usize> Zeroed for BatchNorm1d<N> {
    /// PyTorch's fresh layer, as [`BatchNorm1d::new`] (`γ = 1`, running variance 1).
    const ZERO: Self = Self::new();
}

impl<const N: usize> Default for BatchNorm1d<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Params for BatchNorm1d<N> {
    type Like<T: Zeroed + Copy> = BatchNormParams<N, T>;
    const NUM_PARAMS: usize = 2 * N;
    const NUM_STORED: usize = 4 * N;
    const SIGNATURE: u64 = crate::layer_signature("BatchNorm1d", &[N as u64]);

    /// PyTorch's `reset_parameters` and `reset_running_stats`: `γ = 1`, `β = 0`, running mean
    /// 0, running variance 1 (no random draw). `eps`, the momentum and the evaluation mode are
    /// kept.
    fn init<R: rand_core::Rng + ?Sized>(&mut self, _rng: &mut R) {
        self.gamma = [1.0; N];
        self.beta = [0.0; N];
        self.running_mean = [0.0; N];
        self.running_var = [1.0; N];
    }

    fn visit<F: FnMut(&[f32])>(&self, f: &mut F) {
        f(&self.gamma);
        f(&self.beta);
        f(&self.running_mean);
        f(&self.running_var);
    }

    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, f: &mut F) {
        f(&mut self.gamma);
        f(&mut self.beta);
        f(&mut self.running_mean);
        f(&mut self.running_var);
    }

    fn visit_trainable<T: Zeroed + Copy, F: FnMut(&mut [f32], &mut [T])>(
        &mut self,
        like: &mut BatchNormParams<N, T>,
        f: &mut F,
    ) {
        f(&mut self.gamma, &mut like.gamma);
        f(&mut self.beta, &mut like.beta);
    }

    fn visit_trainable2<T: Zeroed + Copy, U: Zeroed + Copy, F>(
        &mut self,
        a: &mut BatchNormParams<N, T>,
        b: &mut BatchNormParams<N, U>,
        f: &mut F,
    ) where
        F: FnMut(&mut [f32], &mut [T], &mut [U]),
    {
        f(&mut self.gamma, &mut a.gamma, &mut b.gamma);
        f(&mut self.beta, &mut a.beta, &mut b.beta);
    }

    fn visit_like<T: Zeroed + Copy, F: FnMut(&[T])>(like: &BatchNormParams<N, T>, f: &mut F) {
        f(&like.gamma);
        f(&like.beta);
    }

    fn visit_like_mut<T: Zeroed + Copy, F: FnMut(&mut [T])>(
        like: &mut BatchNormParams<N, T>,
        f: &mut F,
    ) {
        f(&mut like.gamma);
        f(&mut like.beta);
    }
}

impl<const B: usize, const N: usize> Module<Batch<B, N>> for BatchNorm1d<N> {
    type Output = Batch<B, N>;

    /// Inference: normalizes by the running statistics ([`EvalStats::Running`], the default)
    /// or by the batch's own ([`EvalStats::Batch`]); changes nothing.
    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        match self.eval {
            EvalStats::Running => {
                let mut inv_std = [0.0f32; N];
                for (i, &v) in inv_std.iter_mut().zip(&self.running_var) {
                    *i = 1.0 / sqrtf(v + self.eps);
                }
                self.normalize(x, &self.running_mean, &[0.0; N], &inv_std, None)
            }
            EvalStats::Batch => {
                let s = self.batch_stats(x);
                self.normalize(x, &s.m, &s.r, &s.inv_std, None)
            }
        }
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for BatchNorm1d<N> {
    type Cache = BatchNormCache<B, N>;

    /// Normalizes by the batch's statistics, fills the cache and updates the running
    /// statistics.
    fn forward_train(&mut self, x: &Batch<B, N>, cache: &mut BatchNormCache<B, N>) -> Batch<B, N> {
        const {
            assert!(
                B >= 2,
                "BatchNorm1d trains on batches of at least 2 rows (one row has no variance)"
            )
        };
        let s = self.batch_stats(x);
        let y = self.normalize(x, &s.m, &s.r, &s.inv_std, Some(&mut cache.xhat));
        cache.inv_std = s.inv_std;
        let m = self.momentum;
        let unbiased = (B - 1) as f32;
        for n in 0..N {
            let mean = s.m[n] + s.r[n];
            self.running_mean[n] = (1.0 - m) * self.running_mean[n] + m * mean;
            self.running_var[n] = (1.0 - m) * self.running_var[n] + m * (s.sq[n] / unbiased);
        }
        y
    }

    fn backward(
        &self,
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
        grads: &mut BatchNormParams<N>,
    ) -> Batch<B, N> {
        let (dgamma, dbeta) = Self::param_grads(cache, dy);
        for n in 0..N {
            grads.gamma[n] += dgamma[n];
            grads.beta[n] += dbeta[n];
        }
        self.input_grad(cache, dy, &dgamma, &dbeta)
    }

    fn backward_params(
        &self,
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
        grads: &mut BatchNormParams<N>,
    ) {
        let (dgamma, dbeta) = Self::param_grads(cache, dy);
        for n in 0..N {
            grads.gamma[n] += dgamma[n];
            grads.beta[n] += dbeta[n];
        }
    }

    fn backward_input(&self, cache: &BatchNormCache<B, N>, dy: &Batch<B, N>) -> Batch<B, N> {
        let (dgamma, dbeta) = Self::param_grads(cache, dy);
        self.input_grad(cache, dy, &dgamma, &dbeta)
    }

    fn backward_step<U: Update>(
        &mut self,
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
        update: &U,
        state: &mut BatchNormParams<N, U::Slot>,
    ) -> Batch<B, N> {
        let (dgamma, dbeta) = Self::param_grads(cache, dy);
        let dx = self.input_grad(cache, dy, &dgamma, &dbeta);
        update.update(&mut self.gamma, &dgamma, &mut state.gamma);
        update.update(&mut self.beta, &dbeta, &mut state.beta);
        dx
    }

    fn backward_step_params<U: Update>(
        &mut self,
        cache: &BatchNormCache<B, N>,
        dy: &Batch<B, N>,
        update: &U,
        state: &mut BatchNormParams<N, U::Slot>,
    ) {
        let (dgamma, dbeta) = Self::param_grads(cache, dy);
        update.update(&mut self.gamma, &dgamma, &mut state.gamma);
        update.update(&mut self.beta, &dbeta, &mut state.beta);
    }
}

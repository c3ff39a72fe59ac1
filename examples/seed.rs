//! The seed notebook (`notebook-09-linear-relu-celoss`: Linear, Relu, softmax cross-entropy in
//! numpy), cell by cell, in constnn.
//!
//! ```text
//! cargo run --example seed
//! ```
//!
//! Each notebook cell that prints something gets a header with its Python (`In [4]: …`), the
//! constnn call that does the same, and the result printed like numpy's `repr` (8 decimals at
//! most, the same alignment and line wrapping), so the output can be read side by side with the
//! notebook. constnn computes in `f32` where the notebook used `float64`, so the values agree to
//! about 7 significant digits; the last printed digit may differ.
//!
//! numpy's `np.random.randn` stream (seed 1) cannot be reproduced outside numpy, so the input
//! `x` and the He-initialized weights `w` are not drawn here: they are the seed's own values,
//! copied from `../shared/reference/seed_vectors.json` into [`SEED_X`] and [`SEED_W`].
//!
//! Two differences from the seed show up, and are explained where they do:
//! - the loss: the seed computes `−log(softmax + 1e-7)`, constnn the exact log-sum-exp, so the
//!   seed's loss is lower by about `mean(1e-7 / p[label])`;
//! - the loss gradient: the seed's `CELoss.backward` is the gradient of the *summed* loss
//!   (`softmax − t`), constnn's the gradient of the *mean* loss it returns (`(softmax − t) / N`).

use constnn::{
    Backward, Batch, Linear, Relu, Zeroed, cross_entropy_with_logits, cross_entropy_with_targets,
    softmax,
};

/// The notebook's `x = np.random.randn(5, 10)` after `np.random.seed(1)` (float64 values, as
/// in `seed_vectors.json`).
const SEED_X: [[f64; 10]; 5] = [
    [
        1.6243453636632417,
        -0.6117564136500754,
        -0.5281717522634557,
        -1.0729686221561705,
        0.8654076293246785,
        -2.3015386968802827,
        1.74481176421648,
        -0.7612069008951028,
        0.31903909605709857,
        -0.2493703754774101,
    ],
    [
        1.462107937044974,
        -2.060140709497654,
        -0.3224172040135075,
        -0.38405435466841564,
        1.1337694423354374,
        -1.0998912673140309,
        -0.17242820755043575,
        -0.8778584179213718,
        0.04221374671559283,
        0.5828152137158222,
    ],
    [
        -1.1006191772129212,
        1.1447237098396141,
        0.9015907205927955,
        0.5024943389018682,
        0.9008559492644118,
        -0.6837278591743331,
        -0.12289022551864817,
        -0.9357694342590688,
        -0.2678880796260159,
        0.530355466738186,
    ],
    [
        -0.691660751725309,
        -0.39675352685597737,
        -0.6871727001195994,
        -0.8452056414987196,
        -0.671246130836819,
        -0.01266459891890136,
        -1.1173103486352778,
        0.23441569781709215,
        1.6598021771098705,
        0.7420441605773356,
    ],
    [
        -0.19183555236161492,
        -0.8876289640848363,
        -0.7471582937508376,
        1.6924546010277466,
        0.05080775477602897,
        -0.6369956465693534,
        0.19091548466746602,
        2.100255136478842,
        0.12015895248162915,
        0.6172031097074192,
    ],
];

/// The notebook's `Linear(10, 3).w`: `np.random.randn(10, 3) * np.sqrt(2 / 10)` drawn right
/// after `x` (He init); the bias is zero.
#[rustfmt::skip]
const SEED_W: [[f64; 3]; 10] = [
    [0.13424024804981838, -0.15753092036467473, -0.5109496712616142],
    [-0.1562308149520067, -0.09342034118674183, 0.26234586653224984],
    [0.37520478908364663, 0.416401509557258, 0.12771853455617302],
    [0.3958471625985312, -0.33737701563087824, 0.5602996723892781],
    [0.22938918922828547, -0.13331116857906156, 0.21847195678000936],
    [-0.03379669749823732, 0.5060800471355676, 0.679682742973471],
    [0.9774190357919773, -0.6245321472961656, -0.6458273272372934],
    [-0.22560399237527146, 0.07157075324104073, 0.39183465347770596],
    [0.14115623962135782, -0.9043558765530388, -0.13693859744404868],
    [0.37028151690317923, 0.10290149390791722, 0.34078175975850733],
];

/// The class of each row of the notebook's one-hot targets `t`.
const CLASSES: [usize; 5] = [0, 0, 2, 2, 0];

/// The notebook's printed `loss.forward(y2, t)`, which uses `log(y + 1e-7)`.
const SEED_LOSS: f64 = 0.7776580427782468;

/// The same loss computed exactly (log-sum-exp in float64), from `seed_vectors.json`.
const EXACT_LOSS: f64 = 0.7776582721572434;

/// numpy's `repr` line width.
const LINE_WIDTH: usize = 75;

/// Formats one value like numpy's default `floatmode='maxprec'`, `precision=8`: the shortest
/// digits that identify the value, but at most 8 decimals, and always a decimal point.
fn float_word(v: f32) -> String {
    // `{}` prints the shortest decimal that reads back as the same f32, without an exponent,
    // which is right for the magnitudes here (numpy would switch to `e` notation below 1e-4).
    let shortest = format!("{v}");
    match shortest.split_once('.') {
        None => shortest + ".",
        Some((_, decimals)) if decimals.len() > 8 => {
            let rounded = format!("{v:.8}");
            rounded.trim_end_matches('0').to_string()
        }
        Some(_) => shortest,
    }
}

/// Pads the words of one array to a common layout, like numpy: integer parts (with their sign)
/// right-aligned, decimals left-aligned, so the decimal points line up.
fn align(words: Vec<String>) -> Vec<String> {
    let split = |w: &str| w.find('.').unwrap_or(w.len());
    let int_width = words.iter().map(|w| split(w)).max().unwrap_or(0);
    let frac_width = words.iter().map(|w| w.len() - split(w)).max().unwrap_or(0);
    words
        .iter()
        .map(|w| {
            let int = split(w);
            format!(
                "{}{w}{}",
                " ".repeat(int_width - int),
                " ".repeat(frac_width - (w.len() - int))
            )
        })
        .collect()
}

/// Lays out one row of aligned words the way numpy wraps it: `", "` between words, and a new
/// line (indented by `indent` spaces) before a word that would pass `width`.
fn wrap_row(words: &[String], indent: usize, width: usize) -> String {
    let prefix = " ".repeat(indent);
    let mut text = String::new();
    let mut line = prefix.clone();
    for (i, word) in words.iter().enumerate() {
        if line.len() + word.len() > width && line.len() > prefix.len() {
            text.push_str(line.trim_end());
            text.push('\n');
            line.clone_from(&prefix);
        }
        line.push_str(word);
        if i + 1 < words.len() {
            line.push_str(", ");
        }
    }
    text.push_str(&line);
    // The first line's indent is where `array([` (or `array([[`) goes.
    text[indent..].to_string()
}

/// numpy's `repr` of a 2-D array of `words` (`rows × cols`, row-major, already aligned).
fn repr_2d(words: &[String], cols: usize) -> String {
    // `array([[` is 8 characters; each row's `]` and the array's `]` leave 73 for the words.
    let rows: Vec<String> = words
        .chunks(cols)
        .map(|row| wrap_row(row, 8, LINE_WIDTH - 2))
        .collect();
    format!("array([[{}]])", rows.join("],\n       ["))
}

/// numpy's `repr` of a 1-D array of aligned `words`.
fn repr_1d(words: &[String]) -> String {
    format!("array([{}])", wrap_row(words, 7, LINE_WIDTH - 1))
}

/// Prints a float batch (`B × N`) as numpy prints a float array.
fn show<const B: usize, const N: usize>(a: &Batch<B, N>) {
    let words = align(a.iter().flatten().map(|&v| float_word(v)).collect());
    println!("{}\n", repr_2d(&words, N));
}

/// Prints a float vector as numpy prints a 1-D float array.
fn show_1d(a: &[f32]) {
    let words = align(a.iter().map(|&v| float_word(v)).collect());
    println!("{}\n", repr_1d(&words));
}

/// Prints a cell header: the notebook's Python, then constnn's equivalent.
fn cell(number: u32, python: &str, rust: &str) {
    let input = format!("In [{number}]: ");
    let mut lines = python.lines();
    println!("{input}{}", lines.next().unwrap_or_default());
    for line in lines {
        println!("{:width$}{line}", "", width = input.len());
    }
    for line in rust.lines() {
        println!("{:width$}// {line}", "", width = input.len());
    }
    println!();
}

fn main() -> Result<(), constnn::Error> {
    println!(
        "The seed notebook (notebook-09-linear-relu-celoss) in constnn; numpy printed float64,"
    );
    println!("constnn computes in f32, so compare about 7 significant digits.\n");

    cell(
        1,
        "import numpy as np\nnp.random.seed(1)",
        "numpy's random stream cannot be reproduced: x and w below are the seed's values",
    );
    cell(
        2,
        "class Linear(Optimizer): ...",
        "constnn::Linear<IN, OUT>: y = x·W + b with weight[i][o] = the seed's w[i, o]",
    );

    // In [3]: the seed's x, rounded to f32.
    let x: Batch<5, 10> = SEED_X.map(|row| row.map(|v| v as f32));
    cell(
        3,
        "x = np.random.randn(5,10)\nx",
        "let x: Batch<5, 10> = SEED_X (the seed's values, as f32)",
    );
    show(&x);

    // In [4]: Linear(10, 3) with the seed's He-initialized w and zero b. The seed's `forward`
    // stores its input in `self.x`; constnn's `forward_train` stores it in a cache instead.
    let mut model = Linear::<10, 3> {
        weight: SEED_W.map(|row| row.map(|v| v as f32)),
        bias: [0.0; 3],
    };
    let mut linear_cache: Batch<5, 10> = Zeroed::ZERO;
    let y1 = model.forward_train(&x, &mut linear_cache);
    cell(
        4,
        "model = Linear(10, 3)\ny1 = model.forward(x)\ny1",
        "model = Linear::<10, 3> { weight: SEED_W, bias: [0.0; 3] }\n\
         let y1 = model.forward_train(&x, &mut linear_cache); // or model.forward(&x)",
    );
    show(&y1);

    // In [5]–[7]: backward with dy = ones. The gradients accumulate into `grads` (zero here).
    let mut grads = Linear::<10, 3>::ZERO;
    let dx = model.backward(&linear_cache, &[[1.0; 3]; 5], &mut grads);
    cell(
        5,
        "model.backward(np.ones((5,3))).shape",
        "let dx: Batch<5, 10> = model.backward(&linear_cache, &[[1.0; 3]; 5], &mut grads);\n\
         the shape is in the type",
    );
    println!("({}, {})\n", dx.len(), dx[0].len());
    cell(6, "model.dw", "grads.weight");
    show(&grads.weight);
    cell(7, "model.db", "grads.bias");
    show_1d(&grads.bias);

    cell(
        8,
        "class Relu: ...",
        "constnn::Relu: y = 0 where x <= 0; its cache is a bool mask",
    );
    cell(9, "y1", "y1");
    show(&y1);
    cell(
        10,
        "relu = Relu()",
        "Relu is a unit struct: nothing to create",
    );

    let mut relu_mask = [[false; 3]; 5];
    let y2 = Relu.forward_train(&y1, &mut relu_mask);
    cell(
        11,
        "y2 = relu.forward(y1)\ny2",
        "let y2 = Relu.forward_train(&y1, &mut relu_mask);",
    );
    show(&y2);

    // numpy broadcasts the scalar 1; constnn's dy has the output's shape. numpy printed an int
    // array (np.where(…, 0, 1)); constnn's gradient is f32.
    let relu_dx = Relu.backward(&relu_mask, &[[1.0; 3]; 5], &mut ());
    cell(
        12,
        "relu.backward(1)",
        "Relu.backward(&relu_mask, &[[1.0; 3]; 5], &mut ())  (f32 where numpy printed ints)",
    );
    show(&relu_dx);

    cell(
        13,
        "class CELoss: ...",
        "constnn::cross_entropy_with_logits(&logits, &labels) -> (mean loss, dlogits):\n\
         softmax and cross-entropy in one stable step",
    );
    cell(14, "y2", "y2");
    show(&y2);

    let t: Batch<5, 3> = CLASSES.map(|c| core::array::from_fn(|k| if k == c { 1.0 } else { 0.0 }));
    cell(
        15,
        "t = np.zeros((5,3))\nt[0,0], t[1,0], t[2,2], t[3,2], t[4,0] = np.ones(5)\nt",
        "const CLASSES: [usize; 5] = [0, 0, 2, 2, 0]; // constnn takes class labels\n\
         let t: Batch<5, 3> = the one-hot rows of CLASSES (for cross_entropy_with_targets)",
    );
    show(&t);
    cell(16, "loss = CELoss()", "a function, nothing to create");

    let (loss, dlogits) = cross_entropy_with_logits(&y2, &CLASSES)?;
    // One-hot targets give the very same bits as the labels.
    assert_eq!(cross_entropy_with_targets(&y2, &t)?, (loss, dlogits));
    cell(
        17,
        "loss.forward(y2,t)",
        "let (loss, dlogits) = cross_entropy_with_logits(&y2, &CLASSES)?;\n\
         (cross_entropy_with_targets(&y2, &t) gives the same bits)",
    );
    println!("{loss}\n");
    // The seed takes log(p + 1e-7) ≈ log p + 1e-7 / p, so each row's loss is 1e-7 / p[label]
    // lower than the exact −log p[label].
    let p = softmax(&y2);
    let p_label: [f32; 5] = core::array::from_fn(|b| p[b][CLASSES[b]]);
    let shift = p_label.iter().map(|&p| 1e-7 / f64::from(p)).sum::<f64>() / p_label.len() as f64;
    println!("  constnn, f32:           {loss}  (exact log-sum-exp)");
    println!("  exact, float64:         {EXACT_LOSS}");
    println!("  the seed, float64:      {SEED_LOSS}  (log(p + 1e-7))");
    println!("  exact − seed:           {:.3e}", EXACT_LOSS - SEED_LOSS);
    println!(
        "  mean(1e-7 / p[label]):  {shift:.3e}  with p[label] = {:?} (constnn::softmax)\n",
        p_label
    );

    // The seed's backward is softmax − t, the gradient of the *summed* loss: N × constnn's.
    let n = y2.len() as f32;
    cell(
        18,
        "loss.backward()",
        "the seed's softmax(y2) − t = N × dlogits (the gradient of the summed loss):\n\
         dlogits.map(|row| row.map(|g| g * 5.0))",
    );
    show(&dlogits.map(|row| row.map(|g| g * n)));
    println!(
        "// constnn's dlogits = (softmax(y2) − t) / N, the gradient of the mean loss it returns:\n"
    );
    show(&dlogits);
    Ok(())
}

//! Fine-tunes a pretrained digits model on the device, across a reset: boot 1 fine-tunes from
//! the pretrained weights in flash and saves a checkpoint; boot 2 finds the checkpoint in
//! flash, checks it, and finishes.
//!
//! ```text
//! cargo run --release --bin finetune                 # boot 1: prints the checkpoint as hex
//! # boot 2: the same ELF, the checkpoint placed in its flash sector by QEMU
//! qemu-system-arm -machine mps2-an386 -nographic -semihosting-config enable=on,target=native \
//!     -device loader,file=ckpt.bin,addr=0x3ff000 -kernel target/thumbv7em-none-eabihf/release/finetune
//! ```
//!
//! - **Pretrained model in flash, verified at compile time.** `PRETRAINED` is built by
//!   `constnn::const_model!` from `examples/common/digits_pretrained_0to7.cnnw` (the host's
//!   model trained on digits 0–7 only): a blob with a wrong byte, another format version or
//!   another model's signature does not compile. It is a `static` in `.rodata`; the body
//!   (`Linear<64, 32>` and the ReLU) runs from there and is never copied to RAM or trained.
//! - **Fine-tuning**: the head `Linear<32, 10>` (a RAM copy of the pretrained head) is trained
//!   on all ten digits with SGD with momentum, `examples/common/finetune_run.rs` (the code the
//!   host test `tests/finetune_run.rs` runs).
//! - **Checkpoint**: after `stop_step` steps (mid-epoch) boot 1 writes `save_checkpoint` of
//!   the head trainer (head, momentum, step count: 2 676 bytes) into a RAM buffer of a flash
//!   sector's size and prints it in hex (`ckpt` lines; a real device would program it into its
//!   flash sector); `.ci/embedded.sh` turns them into `ckpt.bin` for boot 2.
//! - **Boot 2**: the checkpoint sector (the board's last 4 KiB of flash, outside the image;
//!   its address is the linker symbol `__checkpoint`, see `build.rs`) holds the checkpoint; `load_checkpoint` validates all of it (magic, version,
//!   signature of head and optimizer, lengths, CRC-32) before anything is changed, and
//!   training goes on from its step count. An empty sector (no magic) means boot 1; a sector
//!   with the magic that does not validate is a failure.
//!
//! Each boot's last line ends in ` PASS` only if its values are the host's (`finetune_run`'s
//! pinned `Config`); the exit status is 0 only then.

#![no_std]
#![no_main]
// As `src/main.rs`: the markers' `no_mangle`, the HardFault signature and the interrupt table
// are allowed one by one, and so is the reference to the checkpoint sector's linker symbol.
#![deny(unsafe_code)]

#[path = "../board.rs"]
mod board;
#[path = "../../../common/finetune_run.rs"]
mod finetune_run;
#[path = "../line.rs"]
mod line;
#[path = "../../../common/markers.rs"]
#[macro_use]
mod markers;

use constnn::format::container::MAGIC;
use constnn::{Error, Linear, Relu, const_model};
use cortex_m_rt::entry;
use cortex_m_semihosting::hio::{self, HostStream};

use finetune_run::{
    Accuracy, CHECKPOINT_LEN, Config, Head, HeadTrainer, Mlp, Outcome, PIXELS, Split, TRAIN_ROWS,
};
use line::Line;

#[cfg(board = "microbit")]
use finetune_run::m0 as config;
#[cfg(board = "mps2-an386")]
use finetune_run::m4f as config;

#[cfg(board = "microbit")]
const BOARD: &str = "microbit (Cortex-M0)";
#[cfg(board = "mps2-an386")]
const BOARD: &str = "mps2-an386 (Cortex-M4F)";

/// The batch size on this board.
const BATCH: usize = config::BATCH;
/// The test split's size.
const TEST_ROWS: usize = finetune_run::data::TEST_ROWS;

// The data, in flash, from build.rs (as in src/main.rs).
static TRAIN_PIXELS: [u8; TRAIN_ROWS * PIXELS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/train_pixels.bin"));
static TRAIN_LABELS: [u8; TRAIN_ROWS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/train_labels.bin"));
static TEST_PIXELS: [u8; TEST_ROWS * PIXELS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/test_pixels.bin"));
static TEST_LABELS: [u8; TEST_ROWS] = *include_bytes!(concat!(env!("OUT_DIR"), "/test_labels.bin"));

static TRAIN: Split<'static> = Split {
    pixels: TRAIN_PIXELS.as_chunks().0,
    labels: &TRAIN_LABELS,
};
static TEST: Split<'static> = Split {
    pixels: TEST_PIXELS.as_chunks().0,
    labels: &TEST_LABELS,
};

/// The host-pretrained model (digits 0–7), built and checked at compile time, in flash.
static PRETRAINED: Mlp = const_model!(
    include_bytes!("../../../common/digits_pretrained_0to7.cnnw") => (Linear, Relu, Linear)
);

/// The checkpoint sector in flash: the board's last 4 KiB, whose address the linker gives
/// (`__checkpoint`, build.rs's `checkpoint.x`). The firmware image does not cover it, so it
/// holds what was last programmed there (for boot 2, QEMU's `-device loader` puts boot 1's
/// checkpoint there); the compiler knows nothing of its contents.
fn checkpoint_sector() -> &'static [u8; CHECKPOINT_LEN] {
    #[allow(unsafe_code)] // a linker-defined symbol: the only way to name a fixed address
    unsafe extern "C" {
        static __checkpoint: [u8; CHECKPOINT_LEN];
    }
    // SAFETY: `__checkpoint` is the start of a 4 KiB flash sector (`CHECKPOINT_LEN` ≤ 4096,
    // asserted below) that nothing writes while the firmware runs, and any bytes are a valid
    // `[u8; N]`.
    #[allow(unsafe_code)]
    unsafe {
        &__checkpoint
    }
}

const _: () = assert!(CHECKPOINT_LEN <= 4096);

/// What fine-tuning keeps in RAM besides the trainer: the head, the epoch's order and the
/// flash-sized buffer the checkpoint is written into. All zero, so in `.bss`.
struct Workspace {
    head: Head,
    order: [u16; TRAIN_ROWS],
    checkpoint: [u8; CHECKPOINT_LEN],
}

#[entry]
fn main() -> ! {
    static mut WORKSPACE: Workspace = Workspace {
        head: Head::ZERO,
        order: [0; TRAIN_ROWS],
        checkpoint: [0; CHECKPOINT_LEN],
    };
    board::exit(hio::hstdout().is_ok_and(|mut out| run(&mut out, WORKSPACE)))
}

fn run(out: &mut HostStream, ws: &mut Workspace) -> bool {
    let config = config::CONFIG;
    let sector = checkpoint_sector();
    let mut trainer = HeadTrainer::<BATCH>::new(config.optimizer);
    ws.head = PRETRAINED.2;
    let resumed = sector[..4] == MAGIC;
    Line::new(out)
        .str("constnn fine-tuning on ")
        .str(BOARD)
        .str(if resumed {
            ": boot 2 (checkpoint in flash)"
        } else {
            ": boot 1 (no checkpoint in flash)"
        })
        .str(" batch=")
        .dec(BATCH as u32)
        .str(" epochs=")
        .dec(config.epochs.into())
        .str(" stop_step=")
        .dec(config.stop_step as u32)
        .end();
    if resumed {
        if let Err(e) = trainer.load_checkpoint(&mut ws.head, sector) {
            Line::new(out)
                .str("the checkpoint in flash is invalid: ")
                .str(error_name(e))
                .str(" FAIL")
                .end();
            return false;
        }
        Line::new(out)
            .str("resumed at step=")
            .dec(trainer.steps() as u32)
            .end();
        boot2(out, ws, &mut trainer, &config)
    } else {
        boot1(out, ws, &mut trainer, &config)
    }
}

/// Fine-tunes `ws.head` up to `until` steps, between the whole-run markers.
fn finetune(
    out: &mut HostStream,
    ws: &mut Workspace,
    trainer: &mut HeadTrainer<BATCH>,
    config: &Config,
    until: u64,
) -> Result<Option<f32>, Error> {
    train_begin();
    let r = finetune_run::finetune(
        &PRETRAINED.0,
        &mut ws.head,
        trainer,
        &mut ws.order,
        TRAIN,
        config,
        until,
        marked_step,
        |epoch, loss| print_epoch(out, epoch, loss),
    );
    train_end();
    r
}

fn boot1(
    out: &mut HostStream,
    ws: &mut Workspace,
    trainer: &mut HeadTrainer<BATCH>,
    config: &Config,
) -> bool {
    let before = finetune_run::accuracy(&PRETRAINED.0, &PRETRAINED.2, TEST);
    if let Err(e) = finetune(out, ws, trainer, config, config.stop_step) {
        return failed(out, e);
    }
    let crc = match trainer.save_checkpoint(&ws.head, &mut ws.checkpoint) {
        Ok(_) => u32::from_le_bytes([
            ws.checkpoint[CHECKPOINT_LEN - 4],
            ws.checkpoint[CHECKPOINT_LEN - 3],
            ws.checkpoint[CHECKPOINT_LEN - 2],
            ws.checkpoint[CHECKPOINT_LEN - 1],
        ]),
        Err(e) => return failed(out, e),
    };
    print_hex(out, &ws.checkpoint);
    let mut line = Line::new(out);
    accuracy_line(line.str("before "), &before)
        .str(" steps=")
        .dec(trainer.steps() as u32)
        .str(" checkpoint_crc=")
        .hex(crc);
    // Boot 1's result line: the host's `before correct=… new_correct=… checkpoint_crc=…`.
    let passed = before == config.before && crc == config.checkpoint_crc;
    line.str(if passed {
        " PASS"
    } else {
        " FAIL: not the host's values"
    });
    line.end();
    passed
}

fn boot2(
    out: &mut HostStream,
    ws: &mut Workspace,
    trainer: &mut HeadTrainer<BATCH>,
    config: &Config,
) -> bool {
    let loss = match finetune(out, ws, trainer, config, u64::MAX) {
        Ok(Some(loss)) => loss,
        Ok(None) => f32::NAN,
        Err(e) => return failed(out, e),
    };
    let got = Outcome {
        accuracy: finetune_run::accuracy(&PRETRAINED.0, &ws.head, TEST),
        loss_bits: loss.to_bits(),
        head_fnv: finetune_run::head_fnv(&ws.head),
    };
    let mut line = Line::new(out);
    accuracy_line(line.str("after "), &got.accuracy)
        .str(" loss_bits=")
        .hex(got.loss_bits)
        .str(" head_fnv=")
        .hex(got.head_fnv);
    let passed = got == config.after;
    line.str(if passed {
        " PASS"
    } else {
        " FAIL: not the host's values"
    });
    line.end();
    passed
}

#[inline(never)]
fn accuracy_line<'a, 'b>(
    line: &'b mut Line<'a, HostStream>,
    acc: &Accuracy,
) -> &'b mut Line<'a, HostStream> {
    line.str("correct=")
        .dec(acc.correct.into())
        .str(" new_correct=")
        .dec(acc.new_correct.into())
}

#[inline(never)]
fn print_epoch(out: &mut HostStream, epoch: u16, loss: f32) {
    Line::new(out)
        .str("epoch=")
        .dec(epoch.into())
        .str(" loss_bits=")
        .hex(loss.to_bits())
        .end();
}

/// Prints `bytes` as `ckpt <hex>` lines of 64 bytes.
#[inline(never)]
fn print_hex(out: &mut HostStream, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for chunk in bytes.chunks(64) {
        let mut text = [0u8; 5 + 128 + 1];
        text[..5].copy_from_slice(b"ckpt ");
        let mut n = 5;
        for &b in chunk {
            text[n] = DIGITS[usize::from(b >> 4)];
            text[n + 1] = DIGITS[usize::from(b & 0xf)];
            n += 2;
        }
        text[n] = b'\n';
        let _ = out.write_all(&text[..=n]);
    }
}

#[inline(never)]
fn failed(out: &mut HostStream, e: Error) -> bool {
    Line::new(out)
        .str("fine-tuning failed: ")
        .str(error_name(e))
        .str(" FAIL")
        .end();
    false
}

/// One fine-tuning step of the head (the fused step on the features already in the trainer's
/// input), between the instruction-count markers.
#[inline(never)]
fn marked_step(
    head: &mut Head,
    trainer: &mut HeadTrainer<BATCH>,
    labels: &[usize; BATCH],
) -> Result<f32, Error> {
    step_begin();
    let loss = finetune_run::step(head, trainer, labels);
    step_end();
    loss
}

fn error_name(e: Error) -> &'static str {
    match e {
        Error::NonFiniteLoss => "non-finite loss",
        Error::BadMagic => "bad magic",
        Error::ChecksumMismatch { .. } => "checksum mismatch",
        Error::SignatureMismatch { .. } => "signature mismatch",
        Error::NotACheckpoint => "not a checkpoint",
        _ => "error",
    }
}

markers! {
    /// Before this boot's fine-tuning (every step, the body's features included).
    train_begin = 11u8;
    /// After it.
    train_end = 12u8;
    /// Before one head step (forward, loss, fused backward and momentum update).
    step_begin = 13u8;
    /// After it.
    step_end = 14u8;
}

//! The firmware's output lines: the shared printer (`examples/common/line.rs`) on semihosting's
//! host stdout.

#[path = "../../common/line.rs"]
mod shared;

use cortex_m_semihosting::hio::HostStream;

pub use shared::Line;
// For the firmware's generic code (`examples/common/digits_firmware.rs`); a binary that only
// prints through `Line` does not name it.
#[allow(unused_imports)]
pub use shared::Sink;

impl shared::Sink for HostStream {
    fn write_all_bytes(&mut self, bytes: &[u8]) {
        let _ = self.write_all(bytes);
    }
}

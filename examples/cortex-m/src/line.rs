//! The firmware's output lines: the shared printer (`examples/common/line.rs`) on semihosting's
//! host stdout.

#[path = "../../common/line.rs"]
mod shared;

use cortex_m_semihosting::hio::HostStream;

pub use shared::{Line, Sink};

impl shared::Sink for HostStream {
    fn write_all_bytes(&mut self, bytes: &[u8]) {
        let _ = self.write_all(bytes);
    }
}

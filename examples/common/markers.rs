//! `markers!`: the instruction-count marker functions of the firmware.

/// Defines marker functions: empty to the program, but with fixed symbol names whose addresses
/// the instruction counter (`qemu-icount`, start=…,end=…) is given. Each passes a different
/// constant to `black_box`, so no two have the same code and the linker cannot merge them.
macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident = $id:literal;)*) => {$(
        $(#[$doc])*
        #[allow(unsafe_code)] // `no_mangle` only: a stable symbol name for the counter
        #[unsafe(no_mangle)]
        #[inline(never)]
        fn $name() {
            core::hint::black_box($id);
        }
    )*};
}

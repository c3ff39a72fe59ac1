//! The .npy reader: never panics; an accepted file's data is exactly its shape's size, every
//! accessor works, and an F32 array survives constnn's writer unchanged.
#![no_main]

use constnn::format::Dtype;
use constnn::format::npy::{Npy, len_f32, write_f32};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(npy) = Npy::parse(data) else {
        return;
    };
    let size = npy.elements() * npy.dtype().bits() / 8;
    assert_eq!(npy.data().len(), size);
    assert!(data.ends_with(npy.data()));
    assert!(matches!(npy.version(), (1, 0) | (2, 0) | (3, 0)));
    let mut v = vec![0.0f32; npy.elements()];
    match npy.read_f32(&mut v) {
        Ok(()) => assert!(npy.dtype().reads_as_f32()),
        Err(_) => {
            assert!(!npy.dtype().reads_as_f32());
            return;
        }
    }
    if let [rows, cols] = *npy.shape() {
        let mut t = vec![0.0f32; rows * cols];
        npy.read_f32_transposed(rows, cols, &mut t).unwrap();
    }
    if npy.dtype() == Dtype::F32 {
        let mut out = vec![0u8; len_f32(npy.shape())];
        write_f32(&mut out, npy.shape(), &v).unwrap();
        let again = Npy::parse(&out).unwrap();
        assert_eq!((again.shape(), again.data()), (npy.shape(), npy.data()));
    }
});

//! The safetensors reader: never panics; an accepted file tiles its data, every accessor
//! works, the reference implementation (the `safetensors` crate) accepts it too with the same
//! tensors and metadata, and an all-F32 file survives constnn's writer unchanged.
#![no_main]

use constnn::format::Dtype;
use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = SafeTensors::<16>::parse(data) else {
        return;
    };
    let reference = safetensors::SafeTensors::deserialize(data)
        .expect("constnn accepted a file the reference implementation rejects");
    assert_eq!(reference.len(), file.len());
    let (_, ref_meta) = safetensors::SafeTensors::read_metadata(data).unwrap();
    let ref_meta = ref_meta.metadata().clone().unwrap_or_default();
    assert_eq!(ref_meta.len(), file.metadata_iter().len());

    let mut end = 0;
    let (mut names, mut shapes) = (Vec::new(), Vec::new());
    let mut all_f32 = true;
    for t in file.iter() {
        assert_eq!(t.data_offsets().0, end);
        end = t.data_offsets().1;
        assert_eq!(t.data().len() * 8, t.elements() * t.dtype().bits());
        let name: String = t.name().chars().collect();
        assert_eq!(t.name().to_string(), name);
        if let Some(raw) = t.name().as_str() {
            assert_eq!(raw, name);
        }
        assert_eq!(file.get(&name).unwrap().data_offsets(), t.data_offsets());
        let r = reference.tensor(&name).expect("the reference has the tensor");
        assert_eq!(r.dtype().to_string(), t.dtype().safetensors_name());
        assert_eq!(r.shape(), t.shape());
        assert_eq!(r.data(), t.data());
        let mut v = vec![0.0f32; t.elements()];
        match t.read_f32(&mut v) {
            Ok(()) => assert!(t.dtype().reads_as_f32()),
            Err(_) => assert!(!t.dtype().reads_as_f32()),
        }
        if let [rows, cols] = *t.shape() {
            let _ = t.read_f32_transposed(rows, cols, &mut v);
        }
        all_f32 &= t.dtype() == Dtype::F32;
        names.push(name);
        shapes.push(t.shape().to_vec());
    }
    assert_eq!(file.data_start() + end, data.len());
    let meta: Vec<(String, String)> = file
        .metadata_iter()
        .map(|(k, v)| (k.chars().collect(), v.chars().collect()))
        .collect();
    for (k, v) in &meta {
        assert_eq!(ref_meta.get(k), Some(v));
        assert!(file.metadata(k).unwrap() == v.as_str());
    }
    if !all_f32 {
        return;
    }
    let meta_refs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let specs: Vec<TensorSpec> = names
        .iter()
        .zip(&shapes)
        .map(|(name, shape)| TensorSpec { name, shape })
        .collect();
    let mut out = vec![0u8; write_len(&specs, &meta_refs)];
    let mut w = Writer::new(&mut out, &specs, &meta_refs).unwrap();
    for t in file.iter() {
        let mut v = vec![0.0; t.elements()];
        t.read_f32(&mut v).unwrap();
        w.push(&v);
    }
    assert_eq!(w.finish().unwrap(), out.len());
    let again = SafeTensors::<16>::parse(&out).unwrap();
    safetensors::SafeTensors::deserialize(&out).expect("the reference reads constnn's file");
    for t in file.iter() {
        let u = again.get(&t.name().chars().collect::<String>()).unwrap();
        assert_eq!((u.shape(), u.data()), (t.shape(), t.data()));
    }
});

//! The checkpoint (safetensors) reader on arbitrary bytes. It must return `Ok` or `Err`, never
//! panic or allocate what a header merely claims; what it accepts must be one consistent
//! network, and its errors one line naming the data.
#![no_main]

use gpunn::checkpoint;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match checkpoint::from_bytes(Path::new("<bytes>"), data) {
        Ok((params, meta)) => {
            let spec = params.spec();
            spec.validate().expect("a loaded spec is valid");
            for (i, l) in params.layers.iter().enumerate() {
                assert_eq!(l.weights.len(), l.inputs * l.outputs, "layer {i}");
                assert_eq!(l.bias.len(), l.outputs, "layer {i}");
                assert!(l.weights.iter().chain(&l.bias).all(|v| v.is_finite()));
            }
            assert_eq!(meta.input_shape.iter().product::<usize>(), spec.inputs());
            assert!(meta.classes >= 1 && meta.classes <= spec.outputs().max(2));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("<bytes>: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
});

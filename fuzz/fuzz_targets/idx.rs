//! The IDX reader on arbitrary bytes, as images and as labels, raw or gzip (the reader sniffs
//! the gzip magic itself). It must return `Ok` or `Err`, never panic, hang, or allocate more
//! than the data can back; what it accepts must be exactly what its header declares.
#![no_main]

use gpunn::data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = idx::parse_images_bytes(data) {
        assert!(img.count > 0 && img.rows > 0 && img.cols > 0);
        assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
    }
    if let Ok(labels) = idx::parse_labels_bytes(data) {
        assert!(!labels.is_empty());
    }
    // Errors are one line naming the data.
    for e in [
        idx::parse_images_bytes(data).err(),
        idx::parse_labels_bytes(data).err(),
    ]
    .into_iter()
    .flatten()
    {
        let msg = e.to_string();
        assert!(msg.starts_with("<bytes>: "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
});

//! `gpunn::data::mnist`: the two-class filter (`data.digits`) and the seeded validation split
//! (`data.val_split`).

use gpunn::data::{mnist, split, Dataset, Features};

// ---------------------------------------------------------------------------------------------
// --digits and --val-split
// ---------------------------------------------------------------------------------------------

/// `labels.len()` samples of one f32 feature each, equal to the sample's index.
fn indexed(labels: &[u32], classes: usize) -> Dataset {
    Dataset {
        name: "toy".into(),
        dim: 1,
        features: Features::F32((0..labels.len()).map(|i| i as f32).collect()),
        labels: labels.to_vec(),
        classes,
        target: Default::default(),
        weights: None,
    }
}

fn ids(d: &Dataset) -> Vec<usize> {
    match &d.features {
        Features::F32(v) => v.iter().map(|&x| x as usize).collect(),
        Features::U8(_) => unreachable!(),
    }
}

#[test]
fn keep_digits_relabels_in_the_order_given() {
    let d = indexed(&[3, 6, 1, 6, 3, 0, 9], 10);
    let k = mnist::keep_digits(&d, &[6, 3]).unwrap();
    assert_eq!(ids(&k), vec![0, 1, 3, 4], "samples keep their order");
    assert_eq!(k.labels, vec![1, 0, 0, 1], "6 -> 0, 3 -> 1");
    assert_eq!(k.classes, 2);
    assert_eq!(k.dim, 1);
    let k = mnist::keep_digits(&d, &[3, 6]).unwrap();
    assert_eq!(k.labels, vec![0, 1, 1, 0]);
}

#[test]
fn keep_digits_errors_name_the_field() {
    let d = indexed(&[3, 6, 1], 10);
    for (digits, want) in [
        (&[3][..], "exactly 2"),
        (&[3, 6, 1][..], "exactly 2"),
        (&[][..], "exactly 2"),
        (&[3, 3][..], "differ"),
        (&[3, 7][..], "label 7 does not occur"),
    ] {
        let msg = mnist::keep_digits(&d, digits).unwrap_err().to_string();
        assert!(msg.starts_with("data.digits"), "{msg}");
        assert!(msg.contains(want), "{digits:?}: lacks {want:?}: {msg}");
    }
}

#[test]
fn split_validation_holds_out_the_rounded_fraction() {
    let d = indexed(&[0; 10], 1);
    let (train, val) = split::split_validation(&d, 0.25, 7).unwrap();
    let val = val.unwrap();
    // round(2.5) = 3.
    assert_eq!((train.len(), val.len()), (7, 3));
    assert_eq!(val.name, "toy-val");
    assert_eq!(train.name, "toy");
    let mut all = [ids(&train), ids(&val)].concat();
    all.sort();
    assert_eq!(
        all,
        (0..10).collect::<Vec<_>>(),
        "a partition of the samples"
    );

    let big = indexed(&vec![0; 60000], 1);
    let (t, v) = split::split_validation(&big, 0.1, 1).unwrap();
    assert_eq!((t.len(), v.unwrap().len()), (54000, 6000));
}

#[test]
fn split_validation_is_seeded() {
    let d = indexed(&[0; 50], 1);
    let (a, av) = split::split_validation(&d, 0.2, 42).unwrap();
    let (b, bv) = split::split_validation(&d, 0.2, 42).unwrap();
    let (_, cv) = split::split_validation(&d, 0.2, 43).unwrap();
    assert_eq!(a, b);
    assert_eq!(av, bv);
    assert_ne!(ids(&av.unwrap()), ids(&cv.unwrap()));
}

#[test]
fn split_validation_zero_keeps_everything() {
    let d = indexed(&[1, 0, 1], 2);
    let (t, v) = split::split_validation(&d, 0.0, 1).unwrap();
    assert_eq!(t, d);
    assert!(v.is_none());
}

#[test]
fn split_validation_errors_name_the_field() {
    let d = indexed(&[0; 10], 1);
    for (f, want) in [
        (1.0, "[0, 1)"),
        (-0.1, "[0, 1)"),
        (f32::NAN, "[0, 1)"),
        (0.01, "no validation sample"),
        (0.97, "no training sample"),
    ] {
        let msg = split::split_validation(&d, f, 1).unwrap_err().to_string();
        assert!(msg.starts_with("data.val_split"), "{msg}");
        assert!(msg.contains(want), "{f}: lacks {want:?}: {msg}");
    }
}

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
    let (train, val) = split::split_validation(d.clone(), 0.25, 7).unwrap();
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
    let (t, v) = split::split_validation(big.clone(), 0.1, 1).unwrap();
    assert_eq!((t.len(), v.unwrap().len()), (54000, 6000));
}

#[test]
fn split_validation_is_seeded() {
    let d = indexed(&[0; 50], 1);
    let (a, av) = split::split_validation(d.clone(), 0.2, 42).unwrap();
    let (b, bv) = split::split_validation(d.clone(), 0.2, 42).unwrap();
    let (_, cv) = split::split_validation(d.clone(), 0.2, 43).unwrap();
    assert_eq!(a, b);
    assert_eq!(av, bv);
    assert_ne!(ids(&av.unwrap()), ids(&cv.unwrap()));
}

#[test]
fn split_validation_zero_keeps_everything() {
    let d = indexed(&[1, 0, 1], 2);
    let (t, v) = split::split_validation(d.clone(), 0.0, 1).unwrap();
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
        let msg = split::split_validation(d.clone(), f, 1)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("data.val_split"), "{msg}");
        assert!(msg.contains(want), "{f}: lacks {want:?}: {msg}");
    }
}

/// The splits reorder the set in place and copy only the part held out: the same sets as
/// gathering each part by index, for f32 and pixel features, value targets and weights.
#[test]
fn splits_in_place_equal_gathered_subsets() {
    use gpunn::data::Target;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = 257;
    let labels: Vec<u32> = (0..n).map(|i| (i * 7 % 3) as u32).collect();
    let mut f32s = indexed(&labels, 3);
    f32s.dim = 2;
    f32s.features = Features::F32((0..2 * n).map(|i| i as f32 * 0.5).collect());
    f32s.target = Target::Values {
        dim: 3,
        values: (0..3 * n).map(|i| -(i as f32)).collect(),
        units: vec![(2.0, 1.0); 3],
    };
    f32s.weights = Some((0..n).map(|i| 1.0 + i as f32).collect());
    let mut pixels = f32s.clone();
    pixels.features = Features::U8((0..2 * n).map(|i| (i % 251) as u8).collect());
    for d in [f32s, pixels] {
        let (train, val) = split::split_validation(d.clone(), 0.2, 9).unwrap();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(9));
        let n_val = (0.2f64 * n as f64).round() as usize;
        assert_eq!(train, d.subset(&order[..n - n_val]));
        let mut want_val = d.subset(&order[n - n_val..]);
        want_val.name = format!("{}-val", d.name);
        assert_eq!(val.unwrap(), want_val);
        let (rest, out) = split::holdout(d.clone(), 0.3, 4, "t").unwrap();
        // Every sample in exactly one part (weights are 1 + its index).
        let w = |d: &Dataset| d.weights.clone().unwrap();
        let mut all: Vec<f32> = w(&rest).into_iter().chain(w(&out)).collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (1..=n).map(|i| i as f32).collect::<Vec<_>>());
        // Both parts keep the original order: their weights (1 + index) increase.
        for part in [&rest, &out] {
            let w = part.weights.as_ref().unwrap();
            assert!(w.windows(2).all(|p| p[0] < p[1]));
            let idx: Vec<u32> = w.iter().map(|&w| w as u32 - 1).collect();
            assert_eq!(*part, {
                let mut s = d.subset(&idx);
                s.name = part.name.clone();
                s
            });
        }
    }
    // A set that is the sole owner of its features is split without copying them.
    let d = indexed(&labels, 3);
    let before = match &d.features {
        Features::F32(v) => v.as_ptr(),
        Features::U8(_) => unreachable!(),
    };
    let (train, _) = split::split_validation(d, 0.1, 1).unwrap();
    match &train.features {
        Features::F32(v) => assert_eq!(v.as_ptr(), before, "reordered in place"),
        Features::U8(_) => unreachable!(),
    }
}

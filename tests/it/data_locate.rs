//! `gpunn::data::mnist`: finding datasets on disk (the search path, the bundled sample, the
//! best MNIST).

use crate::common::Scratch;
use gpunn::data::{fetch, idx, mnist};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Finding datasets
// ---------------------------------------------------------------------------------------------

fn touch_all(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for n in names {
        std::fs::write(dir.join(n), b"").unwrap();
    }
}

const GZ_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

#[test]
fn locate_in_takes_the_first_complete_directory() {
    let tmp = Scratch::new("data_locate_first");
    let (absent, partial, raw, gz) = (
        tmp.join("absent"),
        tmp.join("partial"),
        tmp.join("raw"),
        tmp.join("gz"),
    );
    touch_all(&partial, &GZ_NAMES[..3]);
    // Raw files, one in the dotted spelling: still complete.
    touch_all(
        &raw,
        &[
            "train-images-idx3-ubyte",
            "train-labels.idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ],
    );
    touch_all(&gz, &GZ_NAMES);
    let dirs = [absent.clone(), partial.clone(), raw.clone(), gz.clone()];
    assert_eq!(mnist::locate_in("mnist", &dirs).unwrap(), raw);
    assert_eq!(
        mnist::locate_in(
            "mnist",
            &dirs[..2].iter().chain([&gz]).cloned().collect::<Vec<_>>()
        )
        .unwrap(),
        gz
    );
    assert_eq!(mnist::missing_files(&partial), vec![idx::TEST_LABELS]);
    assert_eq!(mnist::missing_files(&absent).len(), 4);
}

#[test]
fn locate_in_error_lists_every_place_and_how_to_fetch() {
    let tmp = Scratch::new("data_locate_err");
    let (absent, partial) = (tmp.join("absent"), tmp.join("partial"));
    touch_all(&partial, &GZ_NAMES[1..]);
    let msg = mnist::locate_in("fashion-mnist", &[absent.clone(), partial.clone()])
        .unwrap_err()
        .to_string();
    for want in [
        absent.display().to_string(),
        partial.display().to_string(),
        "not found".into(),
        format!("lacks {}", idx::TRAIN_IMAGES),
        "gpunn data fetch fashion-mnist".into(),
    ] {
        assert!(msg.contains(&want), "lacks {want:?}: {msg}");
    }
}

#[test]
fn candidates_cover_the_usual_places_in_order() {
    let c = mnist::candidates("fashion-mnist");
    let pos = |p: &Path| c.iter().position(|d| d == p);
    let local = pos(Path::new("data/fashion-mnist")).expect("./data/<name>");
    let cache = pos(&fetch::default_dest("fashion-mnist")).expect("the fetch cache");
    let debian = pos(Path::new("/usr/share/datasets/fashion-mnist")).expect("Debian's place");
    assert!(local < cache && cache < debian, "{c:?}");
    assert!(c.contains(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist")));
    assert!(mnist::candidates("mnist").contains(&PathBuf::from("/usr/share/mnist")));
}

#[test]
fn locate_rejects_unknown_names_and_finds_the_bundled_sample() {
    let msg = mnist::locate("cifar10").unwrap_err().to_string();
    assert!(
        msg.contains("cifar10") && msg.contains("mnist-sample"),
        "{msg}"
    );
    let dir = mnist::locate("mnist-sample").unwrap();
    assert!(mnist::missing_files(&dir).is_empty());
    let (train, test) = mnist::load_named("mnist-sample").unwrap();
    assert_eq!(
        (train.len(), test.len(), train.dim, train.classes),
        (8000, 2000, 784, 10)
    );
    assert_eq!(train.name, "mnist-sample-train");
    let (t2, _) = mnist::load_dir(&dir).unwrap();
    assert_eq!(t2.name, "mnist-sample-train", "named after the directory");
    assert_eq!(t2.labels, train.labels);
}

#[test]
fn best_mnist_says_what_it_chose() {
    let (train, _, what) = mnist::best_mnist().unwrap();
    if what.starts_with("mnist-sample") {
        assert_eq!(what, "mnist-sample (bundled)");
        assert_eq!(train.len(), 8000);
    } else {
        assert!(what.starts_with("mnist ("), "{what}");
    }
}

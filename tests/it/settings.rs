//! The settings' declarations: every one is a field of the run description, its default reads
//! as that field's type, every field has one, and the README's table is generated from them.

use gpunn::run::settings::{self, DataKind, IfUnset, SETTINGS};
use gpunn::run::table;
use gpunn::run::{Run, RunSpec};

const KINDS: [DataKind; 4] = [
    DataKind::Images,
    DataKind::Synthetic,
    DataKind::ClassifiedTable,
    DataKind::OtherTable,
];

#[test]
fn every_declared_default_reads_as_its_field() {
    let mut checked = 0;
    for s in SETTINGS {
        for kind in KINDS {
            if let Some(v) = s.default_value(kind) {
                let mut t = toml::Table::new();
                table::insert(&mut t, s.key, v.clone());
                let spec: Result<RunSpec, _> = table::from_table(t);
                assert!(
                    spec.is_ok(),
                    "{}'s default {v} for {kind:?}: {spec:?}",
                    s.key
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} defaults checked");
}

#[test]
fn every_field_of_a_run_is_a_declared_setting_and_back() {
    // A run with every optional field set, so that every key appears.
    let toml = "[data]\ndataset = \"circles\"\ndigits = [0, 1]\ntarget = [\"y\"]\nlabels = \"y.npy\"\ntest = \"t.csv\"\ntest_split = 0.2\n[train]\nearly_stopping = 2\nvalidate_every = 2\n[optimizer]\nclip_norm = 1.0\nclip_value = 1.0\n";
    let spec = RunSpec::from_toml_str(toml).unwrap();
    let data = RunSpec::from_toml_str("[data]\ndataset = \"circles\"\n")
        .unwrap()
        .load_data()
        .unwrap();
    let mut run: Run = RunSpec {
        data: Default::default(),
        ..spec.clone()
    }
    .resolve(&data)
    .unwrap();
    run.data.digits = spec.data.digits.clone();
    run.data.target = spec.data.target.clone();
    run.data.labels = spec.data.labels.clone();
    run.data.test = spec.data.test.clone();
    run.data.test_split = spec.data.test_split;
    run.data.dir = Some("d".into());
    run.data.file = Some("f.csv".into());
    // Written only when not the default.
    run.train.shuffle = false;
    run.train.power_t = 0.25;
    run.train.n_iter_no_change = Some(3);
    run.train.tol = 0.01;
    run.train.stop_on = gpunn::train::StopOn::ValScore;
    run.train.alpha = Some(0.001);
    let keys: Vec<String> = table::leaves(&table::to_table(&run))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for k in &keys {
        assert!(settings::by_key(k).is_some(), "{k} has no declared setting");
    }
    for s in SETTINGS {
        assert!(
            keys.iter().any(|k| k == s.key),
            "{} is no field of a run",
            s.key
        );
        assert!(!s.help.is_empty(), "{} has no help", s.key);
        assert_eq!(settings::by_flag(s.flag).map(|x| x.key), Some(s.key));
    }
}

#[test]
fn resolve_takes_the_declared_defaults_by_kind_of_data() {
    for (toml, kind) in [
        ("[data]\ndataset = \"mnist-sample\"\n", DataKind::Images),
        ("[data]\ndataset = \"circles\"\n", DataKind::Synthetic),
    ] {
        let spec = RunSpec::from_toml_str(toml).unwrap();
        let run = spec.resolve(&spec.load_data().unwrap()).unwrap();
        let epochs: usize = settings::default_of("train.epochs", kind);
        let lr: f32 = settings::default_of("train.lr", kind);
        assert_eq!((run.train.epochs, run.train.lr), (epochs, lr), "{kind:?}");
    }
    // The optimizer's own rate comes before the data's.
    let spec =
        RunSpec::from_toml_str("[data]\ndataset = \"circles\"\n[optimizer]\nkind = \"adam\"\n")
            .unwrap();
    assert_eq!(
        spec.resolve(&spec.load_data().unwrap()).unwrap().train.lr,
        0.001
    );
}

#[test]
fn flag_texts_parse_by_kind_and_errors_name_the_flag() {
    let lr = settings::by_flag("lr").unwrap();
    assert_eq!(lr.parse("0.5").unwrap(), toml::Value::Float(0.5));
    let e = lr.parse("fast").unwrap_err().to_string();
    assert!(
        e.contains("train.lr") && e.contains("'fast' is not a number"),
        "{e}"
    );
    assert_eq!(settings::flags_of("train.lr"), "--lr");
    assert_eq!(
        settings::flags_of("model.activations[1]/model.loss"),
        "--activation/--loss"
    );
    assert_eq!(settings::flags_of("data"), "--dataset/--data");
    let layers = settings::by_flag("layers").unwrap();
    let e = layers.parse("784,x").unwrap_err().to_string();
    assert!(e.contains("'x' is not a layer size"), "{e}");
    // A sweep: a scalar's comma list, a list's occurrences.
    let alts = lr.alternatives(&["0.1,0.01".into()]).unwrap();
    assert_eq!(alts.len(), 2);
    let alts = layers
        .alternatives(&["2,8,1".into(), "2,4,1".into()])
        .unwrap();
    assert_eq!(alts.len(), 2);
    let no_bias = settings::by_flag("no-bias").unwrap();
    assert_eq!(no_bias.parse("true").unwrap(), toml::Value::Boolean(false));
    // Flags overlaid on a file: a merge, the source replaced as a whole.
    let file = RunSpec::from_toml_str("[data]\ndataset = \"xor\"\n[train]\nlr = 0.3\nepochs = 5\n")
        .unwrap();
    let flags = RunSpec::from_flags([
        (settings::by_flag("epochs").unwrap(), "7"),
        (settings::by_flag("data").unwrap(), "x.csv"),
    ])
    .unwrap();
    let both = file.overlay(flags);
    assert_eq!((both.train.lr, both.train.epochs), (Some(0.3), Some(7)));
    assert_eq!(
        (both.data.dataset, both.data.file),
        (None, Some("x.csv".into()))
    );
}

const BEGIN: &str = "<!-- settings table: begin -->\n";
const END: &str = "<!-- settings table: end -->";

/// The README's settings table is the declarations' (`GPUNN_BLESS=1` writes it).
#[test]
fn readme_settings_table_is_generated_from_the_declarations() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (a, b) = (
        readme.find(BEGIN).unwrap() + BEGIN.len(),
        readme.find(END).unwrap(),
    );
    let want = settings::markdown_table();
    if readme[a..b] != want {
        if std::env::var("GPUNN_BLESS").is_ok_and(|v| v == "1") {
            let text = format!("{}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, text).unwrap();
        } else {
            panic!("README.md's settings table differs from src/run/settings.rs; run the tests with GPUNN_BLESS=1 to write it. It should be:\n{want}");
        }
    }
    // Each default in the table comes from a declaration, not from prose.
    let lr = SETTINGS.iter().find(|s| s.key == "train.lr").unwrap();
    assert!(matches!(lr.default, IfUnset::RuleThenPerData(_)));
    assert!(want.contains("0.001 with adam and adamw"), "{want}");
}

//! Every setting of a run, declared once: its key in a run description, its command-line flag,
//! the type of its value, its default (by kind of data where defaults differ), its help text,
//! and whether it may be a sweep axis or change on `--resume`. `gpunn train`'s and `gpunn
//! sweep`'s flags, their `--help`, the names errors give, [`RunSpec::resolve`]'s defaults and
//! the README's flag table all follow from [`SETTINGS`].
//!
//! Adding a setting: a row here, and its field in the description and the resolved run
//! (`run/spec.rs`); then its use.
//!
//! [`RunSpec::resolve`]: super::RunSpec::resolve

mod parse;
mod text;
pub use text::markdown_table;

/// How a flag's text becomes a value of a run description (TOML).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    /// A flag without a value that sets `true` (`--nesterov`).
    Switch,
    /// A flag without a value that sets `false` (`--no-bias` sets `model.bias = false`).
    NoSwitch,
    /// A comma list of whole numbers; the text names one of them (`a layer size`).
    Ints(&'static str),
    /// A comma list of names.
    Texts,
}

impl Kind {
    /// The value is a list: a sweep takes one alternative per occurrence of the flag.
    pub fn is_list(self) -> bool {
        matches!(self, Kind::Ints(_) | Kind::Texts)
    }
}

/// The kinds of data whose defaults differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// MNIST-style images.
    Images,
    /// The synthetic 2-D sets (xor, linear, circles).
    Synthetic,
    /// A table of your own, classified.
    ClassifiedTable,
    /// A table of your own, regressed or reconstructed.
    OtherTable,
}

/// A default for each [`DataKind`], as TOML text.
#[derive(Clone, Copy, Debug)]
pub struct ByData {
    pub images: &'static str,
    pub synthetic: &'static str,
    pub classified_table: &'static str,
    pub other_table: &'static str,
}

/// Where a setting's value comes from when it is not given.
#[derive(Clone, Copy, Debug)]
pub enum IfUnset {
    /// Off: nothing unless given.
    Off,
    /// One value (TOML text) for every run.
    Value(&'static str),
    /// A value by the kind of data.
    PerData(ByData),
    /// By the kind of data, after the optimizer's own default where it has one (adam's lr).
    RuleThenPerData(ByData),
    /// A value (TOML text) applied when the data are loaded; the resolved run records it only
    /// where it was used (the synthetic sets' size, a file's held-out test fraction).
    AtLoad(&'static str),
    /// The optimizer's own default (torch.optim's), from [`crate::optim::OptimizerConfig::of`].
    Optimizer,
    /// Computed from the data and the other settings, as the text says.
    Derived(&'static str),
}

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// Its key in a run description: `train.lr`.
    pub key: &'static str,
    /// Its command-line flag, without the dashes: `lr`.
    pub flag: &'static str,
    /// The value's name in `--help` (`PATIENCE`); none: the flag's name.
    pub value_name: Option<&'static str>,
    pub kind: Kind,
    pub default: IfUnset,
    /// One sentence or two, plain text.
    pub help: &'static str,
    /// `gpunn sweep` takes alternatives of it.
    pub sweep: bool,
    /// It may change when a run is resumed (`--resume` with `--lr`).
    pub on_resume: bool,
}

const fn row(key: &'static str, flag: &'static str, kind: Kind, default: IfUnset) -> Setting {
    Setting {
        key,
        flag,
        value_name: None,
        kind,
        default,
        help: "",
        sweep: true,
        on_resume: false,
    }
}

impl Setting {
    const fn help(mut self, help: &'static str) -> Setting {
        self.help = help;
        self
    }
    const fn value_name(mut self, name: &'static str) -> Setting {
        self.value_name = Some(name);
        self
    }
    const fn on_resume(mut self) -> Setting {
        self.on_resume = true;
        self
    }
}

use IfUnset::*;
use Kind::*;

/// Images train 10 epochs with a cosine schedule; the rest 100 at a constant rate.
const EPOCHS: ByData = ByData {
    images: "10",
    synthetic: "100",
    classified_table: "100",
    other_table: "100",
};
/// Standardised tables classify at the images' rate (at 0.01 a 2-feature table barely moves
/// in 60 epochs); regressed or reconstructed ones, whose unbounded outputs diverged at 0.5,
/// at Keras's SGD default.
const LR: ByData = ByData {
    images: "0.1",
    synthetic: "0.5",
    classified_table: "0.1",
    other_table: "0.01",
};
const SCHEDULE: ByData = ByData {
    images: "\"cosine\"",
    synthetic: "\"constant\"",
    classified_table: "\"constant\"",
    other_table: "\"constant\"",
};
const SCALE: ByData = ByData {
    images: "\"none\"",
    synthetic: "\"none\"",
    classified_table: "\"standard\"",
    other_table: "\"standard\"",
};

/// Every setting, in the order of `--help` and the README's table.
pub const SETTINGS: &[Setting] = &[
    row("data.dataset", "dataset", Text, Derived("the full MNIST if found, else mnist-sample"))
        .help("mnist, fashion-mnist, mnist-sample, xor, linear or circles."),
    row("data.file", "data", Text, Off)
        .value_name("PATH")
        .help("A directory with the four IDX files (train-images-idx3-ubyte, ... raw or .gz), or a file of your own: .csv (numbers, optional header), .npz (x_train, y_train[, x_test, y_test], or x, y) or .npy (features; targets in --labels)."),
    row("data.labels", "labels", Text, Off)
        .value_name("Y.npy")
        .help("The targets of a .npy --data file, as another .npy."),
    row("data.test", "test", Text, Off)
        .value_name("FILE")
        .help("A test set in the same format as --data (else --test-split of it is held out)."),
    row("data.test_split", "test-split", Float, AtLoad("0.2"))
        .help("With a --data file that has no test set: the seeded fraction held out as the test set, stratified by class."),
    row("data.target", "target", Texts, Derived("the last column"))
        .value_name("COL")
        .help("CSV target column(s): a header name or 0-based index; several, comma-separated, to regress several values."),
    row("data.task", "task", Text, AtLoad("\"classify\""))
        .help("classify, regress or autoencode."),
    row("data.scale", "scale", Text, PerData(SCALE))
        .help("Feature scaling fitted on the training part: none, standard or minmax (images are pixels/255 already). Regression targets are standardised too."),
    row("data.digits", "digits", Ints("a class label"), Off)
        .value_name("A,B")
        .help("Keep two classes and relabel them 0/1 for a binary task, e.g. 3,6."),
    row("data.val_split", "val-split", Float, Value("0.1"))
        .value_name("F")
        .help("Hold out this fraction of the shuffled training set for validation (0 for sets of fewer than 50 samples, such as xor)."),
    row("data.samples", "samples", Int, AtLoad("1000"))
        .help("Synthetic sets: the number of samples."),
    row("data.factor", "factor", Float, AtLoad("0.4"))
        .help("circles: the inner circle's radius relative to the outer one (as scikit-learn's make_circles)."),
    row("data.noise", "noise", Float, AtLoad("0.05"))
        .help("circles: the std of the Gaussian noise added to each coordinate."),
    row("model.layers", "layers", Ints("a layer size"), Derived("784,128,64,10 for images (one output for two classes), 2,8,1 for the synthetic sets, inputs,32,outputs for tables; autoencoders 784,128,32,128,784 for images, inputs,inputs/2,inputs for tables"))
        .help("All layer sizes, input to output."),
    row("model.activations", "activation", Texts, Derived("relu; the output's follows the loss"))
        .help("The hidden layers' activation (one for all), or a comma list: one per hidden layer, or one per layer including the output. sigmoid, tanh, relu, leaky_relu, identity, softmax (output only)."),
    row("model.loss", "loss", Text, Derived("bce with one output, else ce; mse for regression and autoencoders"))
        .help("mse, half-mse, bce or ce."),
    row("model.init", "init", Text, Derived("he-normal for ReLU networks, else xavier-uniform"))
        .help("zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD], or sklearn (scikit-learn's MLP initialisation: weights and biases uniform in ±sqrt(6/(fan_in+fan_out)), 2 instead of 6 for sigmoid hidden layers)."),
    row("model.bias", "no-bias", NoSwitch, Value("true"))
        .help("Layers without bias (every bias fixed at zero)."),
    row("train.epochs", "epochs", Int, PerData(EPOCHS))
        .on_resume()
        .help("Passes over the training set (with --resume: the total to reach)."),
    row("train.batch_size", "batch-size", Int, Value("32"))
        .help("Samples per step."),
    row("train.lr", "lr", Float, RuleThenPerData(LR))
        .on_resume()
        .help("Learning rate."),
    row("train.schedule", "lr-schedule", Text, PerData(SCHEDULE))
        .on_resume()
        .help("Learning-rate schedule: constant, cosine (decays to 0 over the epochs), invscaling (scikit-learn's: lr/(t+1)^power_t after t training samples, from epoch to epoch) or adaptive (scikit-learn's: divided by 5 whenever --n-iter-no-change sees the training loss stop improving)."),
    row("train.power_t", "power-t", Float, Value("0.5"))
        .on_resume()
        .help("invscaling: the exponent power_t."),
    row("train.n_iter_no_change", "n-iter-no-change", Int, Off)
        .value_name("N")
        .on_resume()
        .help("Stop when the training loss has not improved by more than --tol for more than N epochs in a row (scikit-learn's n_iter_no_change); with --lr-schedule adaptive, divide the rate by 5 instead, until it is at most 1e-6."),
    row("train.tol", "tol", Float, Value("0.0001"))
        .on_resume()
        .help("The improvement of the training loss that counts for --n-iter-no-change."),
    row("train.stop_on", "stop-on", Text, Value("\"train-loss\""))
        .on_resume()
        .help("What --n-iter-no-change watches: train-loss, or val-score (the validation accuracy or R², as scikit-learn's early_stopping=True; the run ends holding the best-scoring epoch's parameters)."),
    row("train.alpha", "alpha", Float, Off)
        .on_resume()
        .help("scikit-learn's L2 penalty α: each batch of B samples adds α/(2B)·‖W‖² to the loss and α/B·W to the weights' gradients (weight decay α/B; biases are not penalised). The training loss reported includes the term, from the weights at each epoch's end."),
    row("train.early_stopping", "early-stopping", Int, Off)
        .value_name("PATIENCE")
        .on_resume()
        .help("Stop when the validation loss has not improved for this many epochs; keep the best."),
    row("train.validate_every", "validate-every", Int, Value("1"))
        .value_name("N")
        .on_resume()
        .help("Validate after every N epochs and after the last, rather than after every epoch (each validation is a forward pass over the validation set; early stopping sees only validated epochs)."),
    row("train.shuffle", "no-shuffle", NoSwitch, Value("true"))
        .help("Take the training samples in their order every epoch instead of a seeded shuffle (scikit-learn's shuffle=False)."),
    row("seed", "seed", Int, Value("42"))
        .help("Seeds initialisation, shuffling, the validation split and synthetic data."),
    row("device", "device", Text, Value("\"auto\""))
        .on_resume()
        .help("auto (a hardware GPU, else the CPU), vulkan, metal, dx12, gl, software or cpu."),
    row("optimizer.kind", "optimizer", Text, Value("\"sgd\""))
        .on_resume()
        .help("sgd, adam or adamw."),
    row("optimizer.momentum", "momentum", Float, Optimizer)
        .on_resume()
        .help("sgd: momentum μ, v ← μ·v + g."),
    row("optimizer.nesterov", "nesterov", Switch, Optimizer)
        .on_resume()
        .help("sgd: Nesterov momentum."),
    row("optimizer.beta1", "beta1", Float, Optimizer)
        .on_resume()
        .help("adam, adamw: the first moment's decay."),
    row("optimizer.beta2", "beta2", Float, Optimizer)
        .on_resume()
        .help("adam, adamw: the second moment's decay."),
    row("optimizer.eps", "eps", Float, Optimizer)
        .on_resume()
        .help("adam, adamw: the denominator's ε."),
    row("optimizer.weight_decay", "weight-decay", Float, Optimizer)
        .on_resume()
        .help("Weight decay λ on weights (not biases): L2 for sgd and adam, decoupled for adamw."),
    row("optimizer.clip_norm", "clip-norm", Float, Off)
        .on_resume()
        .help("Scale all gradients together when their global L2 norm exceeds this."),
    row("optimizer.clip_value", "clip-value", Float, Off)
        .value_name("C")
        .on_resume()
        .help("Clamp each gradient to [-C, C]."),
];

/// The setting of a key (`data.dir` is `--data`'s, as is `data.file`).
pub fn by_key(key: &str) -> Option<&'static Setting> {
    let key = if key == "data.dir" { "data.file" } else { key };
    SETTINGS.iter().find(|s| s.key == key)
}

/// The setting of a flag (without dashes).
pub fn by_flag(flag: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.flag == flag)
}

/// A field of an error as the flags that set it: `train.lr` → `--lr`,
/// `model.activations/model.loss` → `--activation/--loss`, `data` → `--dataset/--data`; a name
/// that is no setting stays as it is.
pub fn flags_of(field: &str) -> String {
    field
        .split('/')
        // `model.activations[0]` is `--activation`'s.
        .map(|f| f.split('[').next().unwrap_or(f))
        .map(|f| match (f, by_key(f)) {
            ("data", _) => "--dataset/--data".to_string(),
            (_, Some(s)) => format!("--{}", s.flag),
            (f, None) => f.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl ByData {
    /// The default for `kind`, as TOML text.
    pub fn of(&self, kind: DataKind) -> &'static str {
        match kind {
            DataKind::Images => self.images,
            DataKind::Synthetic => self.synthetic,
            DataKind::ClassifiedTable => self.classified_table,
            DataKind::OtherTable => self.other_table,
        }
    }
}

/// The declared default of `key` for `kind` of data, as `T`.
pub fn default_of<T: serde::de::DeserializeOwned>(key: &str, kind: DataKind) -> T {
    let v = by_key(key)
        .and_then(|s| s.default_value(kind))
        .unwrap_or_else(|| panic!("{key} declares a default"));
    v.try_into()
        .unwrap_or_else(|e| panic!("{key}'s declared default: {e}"))
}

/// The keys whose values are lists (a grid over one is a list of lists).
pub fn list_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().filter(|s| s.kind.is_list()).map(|s| s.key)
}

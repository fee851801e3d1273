//! The flags that name your own data (`--data FILE`, `--labels`, `--test`, `--target`,
//! `--task`, `--scale`), shared by `train`, `eval` and `features`, mapped onto the run
//! description's `[data]` section.

use crate::parse_flag;
use clap::Args;
use gpunn::run::DataSpec;
use std::path::PathBuf;

#[derive(Args, Clone, Default)]
pub struct DataFlags {
    /// A directory with the four IDX files (train-images-idx3-ubyte, ... raw or .gz), or a
    /// file of your own: .csv (numbers, optional header), .npz (x_train, y_train[, x_test,
    /// y_test], or x, y) or .npy (features; targets in --labels).
    #[arg(long, conflicts_with = "dataset")]
    pub data: Option<PathBuf>,
    /// The targets of a .npy --data file, as another .npy.
    #[arg(long, value_name = "Y.npy")]
    pub labels: Option<PathBuf>,
    /// A test set in the same format as --data [default: hold out --test-split of it].
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    /// With a --data file that has no test set: the seeded fraction held out as the test set,
    /// stratified by class [default: 0.2].
    #[arg(long)]
    pub test_split: Option<f32>,
    /// CSV target column(s): a header name or 0-based index; several, comma-separated, to
    /// regress several values [default: the last column].
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// classify, regress or autoencode [default: classify].
    #[arg(long)]
    pub task: Option<String>,
    /// Feature scaling fitted on the training part: none, standard or minmax [default: none
    /// for images (pixels/255), standard for tables]. Regression targets are standardised too.
    #[arg(long)]
    pub scale: Option<String>,
}

impl DataFlags {
    /// Sets the `[data]` fields these flags give (a directory as `dir`, a file as `file`).
    pub fn apply(&self, d: &mut DataSpec) -> anyhow::Result<()> {
        if let Some(p) = &self.data {
            if p.is_dir() {
                d.dir = Some(p.clone());
            } else {
                d.file = Some(p.clone());
            }
        }
        d.labels = self.labels.clone();
        d.test = self.test.clone();
        d.test_split = self.test_split;
        d.target = self
            .target
            .as_ref()
            .map(|t| t.split(',').map(|c| c.trim().to_string()).collect());
        d.task = self
            .task
            .as_deref()
            .map(|t| parse_flag("--task", t))
            .transpose()?;
        d.scale = self
            .scale
            .as_deref()
            .map(|s| parse_flag("--scale", s))
            .transpose()?;
        Ok(())
    }
}

//! `gpunn features`: the activations of one hidden layer of a saved model for the training and
//! test sets of its data (or another), written as an `.npz` that `gpunn train --data` reads.

use anyhow::Result;
use clap::Args;
use gpunn::checkpoint;
use gpunn::features::{self, FeatureSet};
use gpunn::run::{self, RunSpec};
use std::path::PathBuf;

#[derive(Args)]
pub struct FeaturesArgs {
    /// A model saved by `gpunn train --save`.
    #[arg(long)]
    model: PathBuf,
    /// The layer whose activations are the features, 1-based (e.g. 3: an autoencoder
    /// 784-128-64-32-... 's 32-wide bottleneck).
    #[arg(long)]
    layer: usize,
    #[command(flatten)]
    data: crate::setting_flags::SettingFlags<crate::setting_flags::OtherData>,
    /// The archive to write: x_train, y_train, x_test, y_test.
    #[arg(long, value_name = "F.npz")]
    out: PathBuf,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(a: FeaturesArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    let spec = RunSpec::of_checkpoint(&a.model, &meta)?;
    let spec = spec.on_other_data(a.data.spec()?);
    let data = spec.load_data()?;
    let scaler = run::scaler_of(&a.model, &meta)?;
    let device = crate::parse_flag("--device", &a.device)?;
    let width = features::truncated(&params, a.layer)?
        .layers
        .last()
        .map_or(0, |l| l.outputs);
    let train = scaler.apply(&data.train)?;
    crate::eval::check_model_fits(&a.model, &params, &train)?;
    let x_train = features::layer_activations(device, &params, a.layer, &train)?;
    let test = data.test.as_ref().map(|t| scaler.apply(t)).transpose()?;
    let x_test = match &test {
        Some(t) => Some(features::layer_activations(device, &params, a.layer, t)?),
        None => None,
    };
    let train_set = FeatureSet {
        features: &x_train,
        width,
        data: &data.train,
    };
    let test_set = test.as_ref().zip(x_test.as_ref()).map(|(t, x)| FeatureSet {
        features: x,
        width,
        data: data.test.as_ref().unwrap_or(t),
    });
    features::write_npz(&a.out, &train_set, test_set.as_ref())?;
    println!(
        "wrote layer {} ({} features) of {} for {} training{} samples of {} to {}",
        a.layer,
        width,
        a.model.display(),
        data.train.len(),
        test.as_ref()
            .map_or(String::new(), |t| format!(" and {} test", t.len())),
        data.name,
        a.out.display()
    );
    Ok(())
}

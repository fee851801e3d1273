//! Hidden-layer features: the activations of one layer of a trained network for every sample
//! of a set, and the `.npz` archive `gpunn features` writes so that `gpunn train --data F.npz`
//! trains a second network on them directly (e.g. an autoencoder's bottleneck, then a small
//! classifier).

use crate::backend;
use crate::data::table::npz::{self, Entry};
use crate::data::{Dataset, Target};
use crate::gpu::DeviceKind;
use crate::model::{Loss, Params};
use crate::{Error, Result};
use std::path::Path;

/// The network cut after dense layer `layer` (1-based; the last is the output layer): its
/// outputs are that layer's activations. The loss is `mse`, which asks nothing of the output.
pub fn truncated(params: &Params, layer: usize) -> Result<Params> {
    let depth = params.layers.len();
    if layer == 0 || layer > depth {
        return Err(Error::invalid(
            "layer",
            format!("{layer} is not a layer of this {depth}-layer network (1 to {depth}; {depth} is the output)"),
        ));
    }
    Ok(Params {
        layers: params.layers[..layer].to_vec(),
        loss: Loss::Mse,
        bias: params.bias,
    })
}

/// Samples per forward pass when computing activations: only the forward pass runs, so a
/// batch larger than training's keeps the GPU's dispatches few; at 784 inputs its buffers stay
/// under 1 MB.
const FORWARD_BATCH: usize = 256;

/// The activations of layer `layer` (1-based) for every sample of `data`, `[n][width]`, on
/// `device` (`auto`: a hardware GPU, else the CPU).
pub fn layer_activations(
    device: DeviceKind,
    params: &Params,
    layer: usize,
    data: &Dataset,
) -> Result<Vec<f32>> {
    let cut = truncated(params, layer)?;
    let mut engine = backend::open(device, &cut, FORWARD_BATCH)?.engine;
    // Classes or values do not matter to the outputs: only the features are read.
    let plain = Dataset {
        target: Target::Classes,
        classes: data.classes.max(2),
        ..data.clone()
    };
    engine.outputs(&plain)
}

/// One set's features and what it is labelled with, for [`write_npz`].
pub struct FeatureSet<'a> {
    /// `[n][width]`
    pub features: &'a [f32],
    pub width: usize,
    /// The set the features came from: its class labels, or its regression targets.
    pub data: &'a Dataset,
}

/// Writes `x_train`, `y_train` (and `x_test`, `y_test`) as float32 features and int64 class
/// labels (or float32 regression targets, in their units as the set holds them).
pub fn write_npz(path: &Path, train: &FeatureSet<'_>, test: Option<&FeatureSet<'_>>) -> Result<()> {
    let mut targets = Vec::new();
    for s in std::iter::once(train).chain(test) {
        let all: Vec<u32> = (0..s.data.len() as u32).collect();
        let mut v = Vec::new();
        if let Target::Values { .. } = s.data.target {
            s.data.gather_targets(&all, &mut v);
        }
        targets.push((
            v,
            s.data.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
        ));
    }
    let mut entries = Vec::new();
    let names = [("x_train", "y_train"), ("x_test", "y_test")];
    let sets: Vec<&FeatureSet<'_>> = std::iter::once(train).chain(test).collect();
    for (i, s) in sets.iter().enumerate() {
        let n = s.data.len();
        if s.features.len() != n * s.width {
            return Err(Error::invalid(
                "features",
                format!(
                    "{} features for {n} samples of width {}",
                    s.features.len(),
                    s.width
                ),
            ));
        }
        let (xk, yk) = names[i];
        entries.push(Entry::F32(xk, vec![n, s.width], s.features));
        let (values, labels) = &targets[i];
        match s.data.target_dim() {
            Some(k) if !values.is_empty() => entries.push(Entry::F32(yk, vec![n, k], values)),
            _ => entries.push(Entry::I64(yk, vec![n], labels)),
        }
    }
    npz::write(path, &entries)
}

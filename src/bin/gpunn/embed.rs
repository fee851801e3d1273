//! `gpunn embed`: 2-D maps (t-SNE or PCA) of a saved model's hidden layers and output for its
//! training, validation and test sets, coloured by class: one PNG and one CSV of coordinates
//! per layer and set.

use anyhow::Result;
use clap::Args;
use gpunn::checkpoint;
use gpunn::explain::{self, Method};
use gpunn::plots;
use gpunn::run::{self, RunSpec};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args)]
pub struct EmbedArgs {
    /// A model saved by `gpunn train --save`.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: crate::setting_flags::SettingFlags<crate::setting_flags::OtherData>,
    /// A layer (1-based; the last is the output), or `all` [default: all].
    #[arg(long, default_value = "all")]
    layer: String,
    /// tsne (Barnes-Hut, with a progress bar) or pca.
    #[arg(long, default_value = "tsne")]
    method: String,
    /// Points per set, a stratified sample.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Seeds the sample (the maps are the same for the same seed) [default: the model's].
    #[arg(long)]
    seed: Option<u64>,
    /// The directory for layer{K}_{set}.png and .csv.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(a: EmbedArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    let spec = RunSpec::of_checkpoint(&a.model, &meta)?;
    let spec = spec.on_other_data(a.data.spec()?);
    let data = spec.load_data()?;
    let run = spec.resolve(&data)?;
    let method: Method = crate::parse_flag("--method", &a.method)?;
    let device = crate::parse_flag("--device", &a.device)?;
    let depth = params.layers.len();
    let layers: Vec<usize> = if a.layer == "all" {
        (1..=depth).collect()
    } else {
        vec![crate::parse_flag::<LayerNo>("--layer", &a.layer)?.0]
    };
    if let Some(&bad) = layers.iter().find(|&&l| l == 0 || l > depth) {
        anyhow::bail!(gpunn::Error::invalid(
            "--layer",
            format!("{bad} is not a layer of this {depth}-layer network (1 to {depth}, or all)")
        ));
    }
    if a.samples < 4 {
        anyhow::bail!(gpunn::Error::invalid("--samples", "give at least 4"));
    }
    // The sets as the model saw them: the run's validation split, its scaling.
    let scaler = run::scaler_of(&a.model, &meta)?;
    let (train, val) = run.split(&data)?;
    let mut sets = vec![("train", scaler.apply(&train)?)];
    if let Some(v) = val {
        sets.push(("validation", scaler.apply(&v)?));
    }
    if let Some(t) = &data.test {
        sets.push(("test", scaler.apply(t)?));
    }
    for (_, s) in &sets {
        crate::eval::check_model_fits(&a.model, &params, s)?;
    }
    std::fs::create_dir_all(&a.out).map_err(|e| gpunn::Error::io(&a.out, e))?;
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{method} [{{bar:30}}] {{pos}}/{{len}} {} ({{eta}} left)",
            if method == Method::Tsne {
                "iterations"
            } else {
                "maps"
            }
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    let set_refs: Vec<(&str, &gpunn::data::Dataset)> = sets.iter().map(|(n, d)| (*n, d)).collect();
    let seed = a.seed.unwrap_or(run.seed);
    let started = std::time::Instant::now();
    let maps = explain::embed(
        device,
        &params,
        &set_refs,
        &layers,
        (method, a.samples, seed),
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    for m in &maps {
        let what = if m.layer == depth {
            format!("the output layer ({} units)", m.width)
        } else {
            format!("hidden layer {} ({} units)", m.layer, m.width)
        };
        let title = format!(
            "{method} of {what}, {} {} set, {} samples",
            data.name,
            m.set,
            m.labels.len()
        );
        let stem = format!("layer{}_{}", m.layer, m.set);
        let png = a.out.join(format!("{stem}.png"));
        plots::scatter_2d(
            &png,
            &m.coords,
            &m.labels,
            &data.class_names,
            &m.axes,
            &title,
        )?;
        let mut csv = String::from("x,y,label,class\n");
        for (p, &l) in m.coords.chunks_exact(2).zip(&m.labels) {
            let name = data
                .class_names
                .get(l as usize)
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(csv, "{},{},{l},\"{}\"", p[0], p[1], name.replace('"', "'"));
        }
        gpunn::io::write_atomic(&a.out.join(format!("{stem}.csv")), csv.as_bytes())?;
    }
    println!(
        "wrote {} maps ({method}, {} layers × {} sets) to {} in {:.1} s",
        maps.len(),
        layers.len(),
        sets.len(),
        a.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A 1-based layer number.
struct LayerNo(usize);

impl std::str::FromStr for LayerNo {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        s.trim()
            .parse()
            .map(LayerNo)
            .map_err(|_| format!("'{s}' is not a layer number or all"))
    }
}

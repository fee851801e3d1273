//! Train on the bundled MNIST sample through the library, as a Rust user would:
//! run description → data → engine on the best device → train with a progress observer →
//! evaluate → save. `cargo run --release --example train_mnist`
use gpunn::run::{CheckpointSaver, RunSpec};
use gpunn::train::{EpochRecord, Observer};

/// Prints one line per epoch.
struct Progress;
impl Observer for Progress {
    fn epoch_end(&mut self, r: &EpochRecord) {
        println!(
            "epoch {}: train loss {:.4}, val accuracy {:.2}%",
            r.epoch,
            r.train_loss,
            100.0 * r.val_accuracy.unwrap_or(0.0)
        );
    }
}

fn main() -> gpunn::Result<()> {
    let toml = "[data]\ndataset = \"mnist-sample\"\n[train]\nepochs = 3\n";
    let spec = RunSpec::from_toml_str(toml)?;
    let data = spec.load_data()?;
    let run = spec.resolve(&data)?; // every default filled in: print it with run.to_toml()
    let opened = run.open_engine(&run.init_params()?, None)?; // a hardware GPU, else the CPU
    let mut engine = opened.engine;
    println!("training {:?} on {}", run.model.layers, engine.describe());
    let sets = run.prepare(&data)?; // the validation split, then the run's scaling
    let path = std::env::temp_dir().join("gpunn-example-mnist.safetensors");
    let mut saver = CheckpointSaver {
        path: path.clone(),
        run: &run,
        data: &data,
        scaler: &sets.scaler,
        earlier: Vec::new(),
        inner: &mut Progress,
    };
    run.fit(
        engine.as_mut(),
        &sets.train,
        sets.val.as_ref(),
        1,
        &mut saver,
    )?;
    let test = engine.evaluate(sets.test.as_ref().expect("mnist-sample has a test set"))?;
    println!(
        "test accuracy {:.2}%; saved to {}",
        100.0 * test.accuracy,
        path.display()
    );
    Ok(())
}

//! Train on the bundled MNIST sample through the library, as a Rust user would: a run
//! description, then one call that loads the data, fills in the defaults, opens the best device,
//! trains with a progress observer, saves and tests. `cargo run --release --example train_mnist`
use gpunn::run::{self, RunObserver, RunSpec, Started, TrainOptions};
use gpunn::train::{EpochRecord, Observer};

/// Says what is trained, then prints one line per epoch.
struct Progress;
impl RunObserver for Progress {
    fn started(&mut self, s: &Started<'_>) {
        // s.run has every default filled in: print it with s.run.to_toml()
        println!("training {:?} on {}", s.run.model.layers, s.engine);
    }
}
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
    let path = std::env::temp_dir().join("gpunn-example-mnist.safetensors");
    let options = TrainOptions {
        save: Some(path.clone()), // after every epoch, atomically
        ..Default::default()      // a hardware GPU, else the CPU; a new run
    };
    let mut trained = run::train_run(&spec, options, &mut Progress)?;
    let test = trained.test.as_ref().expect("mnist-sample has a test set");
    let params = trained.engine.params()?; // the trained weights, [out][in] per layer
    println!(
        "test accuracy {:.2}% ({} epochs, {} layers); saved to {}",
        100.0 * test.evaluation.accuracy,
        trained.history.epochs.len(),
        params.layers.len(),
        path.display()
    );
    Ok(())
}

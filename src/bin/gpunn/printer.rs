//! `gpunn train`'s progress: a bar over each epoch's samples, then one line per epoch with
//! the optimizer, the training loss (and accuracy), and the validation figures of the task.

use gpunn::data::table::Task;
use gpunn::run::{RunObserver, Started};
use gpunn::train::{EpochRecord, Observer};

/// A progress bar over each epoch's samples and one line per epoch, after a line saying what
/// is trained.
#[derive(Default)]
pub struct Printer {
    bar: Option<indicatif::ProgressBar>,
    epochs: usize,
    /// The optimizer's name, on every epoch line.
    optimizer: &'static str,
    /// Accuracy on the epoch lines for classification; the validation MSE (and R² for
    /// regression) otherwise.
    task: Task,
}

impl RunObserver for Printer {
    fn started(&mut self, s: &Started<'_>) {
        let run = s.run;
        (self.epochs, self.optimizer, self.task) =
            (run.train.epochs, run.optimizer.kind.name(), run.data.task);
        if let Some((last, path)) = s.resumed {
            println!("resuming after epoch {last} of {}", path.display());
        }
        if let Some(note) = s.fallback {
            eprintln!("note: {note}");
        }
        let m = &run.model;
        let join = |v: Vec<String>| v.join(",");
        println!(
            "training {} ({}, {}, {}) on {}: {} train, {} validation; {}, lr {}, batch {}, {} epochs; {}",
            join(m.layers.iter().map(|s| s.to_string()).collect()).replace(',', "-"),
            join(m.activations.iter().map(|a| a.name().to_string()).collect()),
            m.loss,
            m.init,
            s.data.description,
            s.sets.train.len(),
            s.sets.val.as_ref().map_or(0, |v| v.len()),
            run.optimizer.describe(),
            run.train.lr,
            run.train.batch_size,
            run.train.epochs,
            s.engine
        );
    }
}

impl Observer for Printer {
    fn progress(&mut self, epoch: usize, done: usize, total: usize) {
        let epochs = self.epochs;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {msg} [{bar:30}] {pos}/{len} samples ({per_sec}, eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_message(format!("{epoch}/{epochs}"));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }

    fn epoch_end(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let mut line = format!(
            "epoch {:>3}/{}  {}  train loss {:.4}",
            r.epoch, self.epochs, self.optimizer, r.train_loss
        );
        if self.task == Task::Classify {
            line.push_str(&format!("  acc {:6.2}%", 100.0 * r.train_accuracy));
        }
        if let (Some(l), Some(a)) = (r.val_loss, r.val_accuracy) {
            line.push_str(&format!("  val loss {l:.4}  acc {:6.2}%", 100.0 * a));
        }
        if let (Some(l), Some(mse), Some(r2)) = (r.val_loss, r.val_mse, r.val_r2) {
            line.push_str(&format!("  val loss {l:.4}  MSE {mse:.5}"));
            if self.task == Task::Regress {
                line.push_str(&format!("  R² {r2:.4}"));
            }
        }
        line.push_str(&format!(
            "  {:>8.0} samples/s  {:.2} s",
            r.samples_per_sec, r.seconds
        ));
        println!("{line}");
    }
}

//! `gpunn data`: where datasets are found, and downloading them.

use anyhow::Result;
use clap::Subcommand;
use gpunn::data::mnist;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Download mnist or fashion-mnist from the public mirrors and verify their SHA-256 sums.
    Fetch {
        /// mnist or fashion-mnist.
        name: String,
        /// Where to put the files [default: the user data directory, where training looks].
        #[arg(long)]
        dest: Option<PathBuf>,
        /// Mirror base URLs to use instead of the built-in ones (repeatable).
        #[arg(long = "mirror")]
        mirrors: Vec<String>,
    },
    /// Show where each named dataset is found, or where gpunn looked.
    List,
}

pub fn run(c: DataCommand) -> Result<()> {
    use gpunn::data::fetch;
    match c {
        DataCommand::Fetch {
            name,
            dest,
            mirrors,
        } => {
            let spec = fetch::spec(&name)?;
            let dest = dest.unwrap_or_else(|| fetch::default_dest(&name));
            let opts = fetch::FetchOptions {
                mirrors: (!mirrors.is_empty()).then_some(mirrors),
                ..Default::default()
            };
            for (file, outcome) in fetch::fetch_report(spec, &dest, &opts)? {
                let what = match outcome {
                    fetch::Outcome::AlreadyPresent => "already present, verified",
                    fetch::Outcome::Downloaded => "downloaded, verified",
                };
                println!("{file}: {what}");
            }
            println!("{name} is in {}", dest.display());
        }
        DataCommand::List => {
            for name in mnist::NAMES {
                match mnist::locate(name) {
                    Ok(dir) => println!("{name:<14} {}", dir.display()),
                    Err(e) => println!("{name:<14} not found ({e})"),
                }
            }
        }
    }
    Ok(())
}

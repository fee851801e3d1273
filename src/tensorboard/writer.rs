//! An event file TensorBoard reads: TFRecords (length, masked CRC-32C of the length, payload,
//! masked CRC-32C of the payload) of `Event`s. Each [`EventWriter::flush`] leaves whole
//! records on disk, so a run killed between flushes leaves a file that reads to its last one.

use super::proto::{Event, HistogramProto, Summary, SummaryValue};
use crate::{Error, Result};
use prost::Message;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Buckets of a weight histogram.
const BUCKETS: usize = 30;

/// Appends events to a new event file in a run's directory.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// TFRecord's CRC: CRC-32C, rotated and offset so that a CRC of data holding CRCs stays strong.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

impl EventWriter {
    /// A new event file in `dir` (created with its parents), named as TensorBoard looks for
    /// them: `events.out.tfevents.<seconds>.<host>.<pid>`.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let name = format!(
            "events.out.tfevents.{}.{host}.{}",
            now() as u64,
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = EventWriter {
            path,
            out: BufWriter::new(file),
        };
        w.write(&Event {
            wall_time: now(),
            file_version: Some("brain.Event:2".into()),
            ..Default::default()
        })?;
        w.flush()?;
        Ok(w)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let data = event.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(data.len() + 16);
        record.extend_from_slice(&len);
        record.extend_from_slice(&masked_crc(&len).to_le_bytes());
        record.extend_from_slice(&data);
        record.extend_from_slice(&masked_crc(&data).to_le_bytes());
        self.out
            .write_all(&record)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn summary(&mut self, step: usize, value: SummaryValue) -> Result<()> {
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            file_version: None,
            summary: Some(Summary { value: vec![value] }),
        })
    }

    /// A scalar `value` of `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: usize, value: f32) -> Result<()> {
        self.summary(
            step,
            SummaryValue {
                tag: tag.into(),
                simple_value: Some(value),
                histo: None,
            },
        )
    }

    /// A histogram of `values` (non-finite ones left out) of `tag` at `step`.
    pub fn histogram(&mut self, tag: &str, step: usize, values: &[f32]) -> Result<()> {
        let histo = histogram(values);
        self.summary(
            step,
            SummaryValue {
                tag: tag.into(),
                simple_value: None,
                histo: Some(histo),
            },
        )
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// `values` in `BUCKETS` (30) buckets of equal width between their least and greatest.
pub fn histogram(values: &[f32]) -> HistogramProto {
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if finite.is_empty() {
        return HistogramProto::default();
    }
    let width = (max - min) / BUCKETS as f64;
    let (limits, mut counts) = if width > 0.0 {
        let limits: Vec<f64> = (1..=BUCKETS).map(|i| min + width * i as f64).collect();
        (limits, vec![0.0; BUCKETS])
    } else {
        (vec![max], vec![0.0])
    };
    for &v in &finite {
        let i = if width > 0.0 {
            (((v - min) / width) as usize).min(counts.len() - 1)
        } else {
            0
        };
        counts[i] += 1.0;
    }
    HistogramProto {
        min,
        max,
        num: finite.len() as f64,
        sum: finite.iter().sum(),
        sum_squares: finite.iter().map(|v| v * v).sum(),
        bucket_limit: limits,
        bucket: counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_every_finite_value_once() {
        let h = histogram(&[-1.0, 0.0, 0.5, 1.0, f32::NAN, f32::INFINITY]);
        assert_eq!((h.min, h.max, h.num), (-1.0, 1.0, 4.0));
        assert_eq!(h.bucket.len(), BUCKETS);
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        assert_eq!(
            (h.bucket[0], h.bucket[BUCKETS - 1]),
            (1.0, 1.0),
            "the ends in the end buckets"
        );
        assert_eq!(*h.bucket_limit.last().unwrap(), 1.0);
        assert_eq!((h.sum, h.sum_squares), (0.5, 2.25));
        let same = histogram(&[2.0; 5]);
        assert_eq!((same.bucket_limit, same.bucket), (vec![2.0], vec![5.0]));
        assert_eq!(histogram(&[f32::NAN]).num, 0.0);
    }

    #[test]
    fn records_are_framed_with_masked_crcs() {
        let dir = std::env::temp_dir().join(format!("gpunn-tb-{}", std::process::id()));
        let mut w = EventWriter::create(&dir).unwrap();
        w.scalar("loss/train", 3, 0.25).unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut at = 0;
        let mut events = Vec::new();
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(len_crc, masked_crc(&bytes[at..at + 8]));
            let data = &bytes[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(data));
            events.push(Event::decode(data).unwrap());
            at += 16 + len;
        }
        assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
        let v = &events[1].summary.as_ref().unwrap().value[0];
        assert_eq!(
            (events[1].step, v.tag.as_str(), v.simple_value),
            (3, "loss/train", Some(0.25))
        );
    }
}

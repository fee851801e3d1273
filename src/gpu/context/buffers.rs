//! Buffers on the context: storage and uniform buffers checked against the adapter's limits,
//! waits with a timeout, and readback.

use super::GpuContext;
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

impl GpuContext {
    fn check_storage_size(&self, label: &str, bytes: u64) -> Result<()> {
        let bind = self.limits.max_storage_buffer_binding_size;
        let max = self.limits.max_buffer_size.min(bind);
        if bytes > max {
            return Err(Error::Gpu(format!(
                "buffer '{label}' needs {bytes} bytes ({:.1} MiB), more than this adapter can bind as one storage buffer ({max} bytes, max_storage_buffer_binding_size); split it or use a smaller batch",
                bytes as f64 / (1 << 20) as f64
            )));
        }
        Ok(())
    }

    /// A storage buffer (STORAGE | COPY_SRC | COPY_DST) holding `data`. Refuses data larger than
    /// one storage binding may be. Empty data gives a 4-byte buffer so it can still be bound.
    pub fn storage_buffer_f32(&self, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        self.storage_buffer_of(label, data)
    }

    /// [`GpuContext::storage_buffer_f32`] for 4-byte words of any plain type (u32, packed u8).
    pub fn storage_buffer_of<T: bytemuck::Pod>(
        &self,
        label: &str,
        data: &[T],
    ) -> Result<wgpu::Buffer> {
        let bytes = std::mem::size_of_val(data) as u64;
        self.check_storage_size(label, bytes)?;
        let contents: &[u8] = if data.is_empty() {
            &[0u8; 4]
        } else {
            bytemuck::cast_slice(data)
        };
        self.scoped(
            &format!("creating buffer '{label}' ({bytes} bytes)"),
            || {
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(label),
                        contents,
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_SRC
                            | wgpu::BufferUsages::COPY_DST,
                    })
            },
        )
    }

    /// A zero-filled storage buffer of `bytes` bytes (rounded up to a multiple of 4, at least 4).
    pub fn storage_buffer_zeroed(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let size = bytes.max(4).next_multiple_of(4);
        self.check_storage_size(label, size)?;
        self.scoped(&format!("creating buffer '{label}' ({size} bytes)"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                // wgpu zero-initialises new buffers.
                mapped_at_creation: false,
            })
        })
    }

    /// A uniform buffer (UNIFORM | COPY_DST) holding `bytes`, padded to a multiple of 16.
    pub fn uniform_buffer(&self, label: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
        let padded = bytes.len().max(16).next_multiple_of(16);
        let max = self.limits.max_uniform_buffer_binding_size;
        if padded as u64 > max {
            return Err(Error::Gpu(format!(
                "uniform buffer '{label}' needs {padded} bytes, more than max_uniform_buffer_binding_size ({max})"
            )));
        }
        let mut contents = bytes.to_vec();
        contents.resize(padded, 0);
        self.scoped(&format!("creating uniform buffer '{label}'"), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: &contents,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                })
        })
    }

    /// Waits until all submitted work is done, at most `self.timeout`.
    pub fn wait_idle(&self) -> Result<()> {
        self.wait(None, "waiting for the GPU to finish")
    }

    /// Waits until `submission` is done, at most `self.timeout`; `what` names the work in errors.
    pub fn wait_for(&self, submission: wgpu::SubmissionIndex, what: &str) -> Result<()> {
        self.wait(Some(submission), what)
    }

    /// Waits for `submission` (or everything submitted), at most `self.timeout`. A timeout or a
    /// lost device is an error, never a hang.
    fn wait(&self, submission: Option<wgpu::SubmissionIndex>, what: &str) -> Result<()> {
        self.check_alive()?;
        let timeout = self.timeout;
        // wgpu panics inside `poll` on a lost device instead of returning an error; turn that
        // into an error too.
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.device.poll(wgpu::PollType::Wait {
                submission_index: submission,
                timeout: Some(timeout),
            })
        }));
        match polled {
            Ok(Ok(_status)) => self.check_alive(),
            Ok(Err(wgpu::PollError::Timeout)) => Err(Error::Gpu(format!(
                "{what}: no answer from {} after {:.0} s (GPUNN_GPU_TIMEOUT_SECS raises the limit)",
                self.info.name,
                timeout.as_secs_f64()
            ))),
            Ok(Err(e)) => Err(Error::Gpu(format!("{what}: {e}"))),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "wgpu panicked".to_string());
                Err(Error::Gpu(format!("{what}: {msg}")))
            }
        }
    }

    /// Copies `len` 4-byte words starting at word `offset` of `buf` into a staging buffer, maps it
    /// and returns the bytes. `buf` needs COPY_SRC.
    fn read_words(
        &self,
        buf: &wgpu::Buffer,
        offset: u64,
        len: u64,
        op: &'static str,
    ) -> Result<Vec<u8>> {
        if !buf.usage().contains(wgpu::BufferUsages::COPY_SRC) {
            return Err(Error::Gpu(format!(
                "{op}: the buffer has no COPY_SRC usage ({:?})",
                buf.usage()
            )));
        }
        let end = offset.checked_add(len).and_then(|e| e.checked_mul(4));
        if end.is_none_or(|e| e > buf.size()) {
            return Err(Error::shape(
                op,
                format!(
                    "the end of a read of {len} elements at {offset} (at most the buffer's size)"
                ),
                crate::Dims(vec![buf.size() / 4]),
                crate::Dims(vec![offset.saturating_add(len)]),
            ));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = len * 4;
        let what = format!("reading back {bytes} bytes at byte {}", offset * 4);
        let staging = self.scoped(&what, || {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("gpunn readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("gpunn readback"),
                });
            enc.copy_buffer_to_buffer(buf, offset * 4, &staging, 0, bytes);
            (staging, self.queue.submit([enc.finish()]))
        })?;
        let (staging, submission) = staging;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait(Some(submission), &what)?;
        // The map callback runs inside poll once the copy is done; poll once more if a backend
        // reports it a little later.
        let mapped = match rx.try_recv() {
            Ok(r) => r,
            Err(_) => {
                self.wait(None, &what)?;
                rx.recv_timeout(self.timeout)
                    .map_err(|_| Error::Gpu(format!("{what}: the buffer was never mapped")))?
            }
        };
        mapped.map_err(|e| Error::Gpu(format!("{what}: mapping failed: {e}")))?;
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("{what}: {e}")))?;
            view.to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Reads `len` f32 values starting at element `offset_elems` of `buf` (which needs COPY_SRC).
    /// Blocks until the GPU has finished the work that writes them, at most `self.timeout`.
    pub fn read_f32(&self, buf: &wgpu::Buffer, offset_elems: u64, len: u64) -> Result<Vec<f32>> {
        let bytes = self.read_words(buf, offset_elems, len, "read_f32")?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Reads `len` u32 values starting at element `offset_elems` of `buf`; see [`Self::read_f32`].
    pub fn read_u32(&self, buf: &wgpu::Buffer, offset_elems: u64, len: u64) -> Result<Vec<u32>> {
        let bytes = self.read_words(buf, offset_elems, len, "read_u32")?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

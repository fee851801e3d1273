//! The wgpu context: instance, adapter choice, device, queue and limits, created once and shared.
//!
//! Adapter choice (`--device`):
//! - `auto`: a hardware adapter only, discrete > integrated > virtual (> unknown type), on any
//!   backend, Vulkan/Metal/DX12 before GL. Never a software rasteriser: without a GPU the caller
//!   falls back to the CPU engine, which is far faster than lavapipe.
//! - `vulkan`, `metal`, `dx12`, `gl`: the best adapter of that backend (hardware first).
//! - `software`: a CPU-type adapter (Mesa lavapipe/llvmpipe, WARP) on any backend, Vulkan first.
//! - `cpu`: not a GPU at all; asking for a context with it is an error.
//!
//! `WGPU_ADAPTER_NAME` (a case-insensitive substring of the adapter name) narrows every choice,
//! as in wgpu's own tools. `GPUNN_GPU_TIMEOUT_SECS` (default 60) bounds every wait on the GPU,
//! so that a hung or lost device becomes an error instead of a hang.

mod adapter;
mod buffers;
mod device;

pub use adapter::{list_adapters, AdapterReport};
pub use device::DeviceKind;

use crate::error::{Error, Result};
use adapter::*;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

crate::model::serde_as_name!(DeviceKind);

/// How a storage binding is accessed by a shader; used to build explicit bind-group layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindingKind {
    Uniform,
    /// `var<storage, read>`
    ReadOnly,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// One device and its queue, with the adapter's description and the limits/features the device
/// was created with. Create it once (see [`GpuContext::shared`]) and reuse it.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The adapter the device was created on.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with (requested from the adapter's, not the defaults).
    pub limits: wgpu::Limits,
    /// The features the device was created with.
    pub features: wgpu::Features,
    /// What was asked for.
    pub kind: DeviceKind,
    /// The longest any wait on the GPU may take.
    pub timeout: Duration,
    /// Set by the device-lost callback.
    lost: Arc<AtomicBool>,
    /// Kept so the adapter and device outlive every use; wgpu also holds it internally.
    _instance: wgpu::Instance,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("kind", &self.kind)
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .field("device_type", &self.info.device_type)
            .finish_non_exhaustive()
    }
}

impl GpuContext {
    /// Creates a new device on the adapter `kind` selects. Slow (adapter enumeration, device
    /// creation); prefer [`GpuContext::shared`].
    pub fn new(kind: DeviceKind) -> Result<GpuContext> {
        if kind == DeviceKind::Cpu {
            return Err(Error::Gpu(
                "device 'cpu' is the CPU engine, not a GPU adapter".to_string(),
            ));
        }
        let name_filter = adapter_name_filter();
        // Enumerate the native backends first; GL (EGL initialisation) only when they have
        // nothing that fits.
        let stages: Vec<wgpu::Backends> = match kind.backend() {
            Some(b) => vec![backends_of(b)],
            None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
        };
        let mut last_err = String::new();
        let mut chosen = None;
        let mut seen = Vec::new();
        for backends in stages {
            let instance = make_instance(backends);
            let adapters = pollster::block_on(instance.enumerate_adapters(backends));
            match choose_adapter(kind, adapters, name_filter.as_deref(), &mut seen) {
                Ok((adapter, why)) => {
                    chosen = Some((instance, adapter, why));
                    break;
                }
                Err(e) => last_err = e,
            }
        }
        let Some((instance, adapter, why)) = chosen else {
            return Err(Error::Gpu(last_err));
        };
        let info = adapter.get_info();
        log::info!(
            "GPU adapter: {} ({:?}, {}, driver {} {}): {why}",
            info.name,
            info.device_type,
            info.backend,
            info.driver,
            info.driver_info
        );

        let adapter_limits = adapter.limits();
        if adapter_limits.max_storage_buffers_per_shader_stage < MIN_STORAGE_BUFFERS_PER_STAGE {
            return Err(Error::Gpu(format!(
                "adapter {} allows only {} storage buffers per shader stage; gpunn needs {MIN_STORAGE_BUFFERS_PER_STAGE}",
                info.name, adapter_limits.max_storage_buffers_per_shader_stage
            )));
        }
        let limits = required_limits(&adapter_limits);
        // Subgroups are requested where the adapter has them, for kernels that may use them.
        let features = adapter.features() & wgpu::Features::SUBGROUP;

        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gpunn"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::default(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("requesting a device on {}: {e}", info.name)))?;

        // The default handler panics; log instead. Errors we care about are caught by `scoped`.
        device.on_uncaptured_error(Arc::new(|e: wgpu::Error| {
            log::error!("uncaptured wgpu error: {e}");
        }));
        let lost = Arc::new(AtomicBool::new(false));
        {
            let lost = lost.clone();
            device.set_device_lost_callback(move |reason, msg| {
                lost.store(true, Ordering::SeqCst);
                // Dropping the device reports `Destroyed`; that is not worth a warning.
                if reason == wgpu::DeviceLostReason::Destroyed {
                    log::debug!("GPU device destroyed: {msg}");
                } else {
                    log::error!("GPU device lost ({reason:?}): {msg}");
                }
            });
        }
        let features = device.features();
        let limits = device.limits();
        log::info!(
            "GPU limits: storage binding {} MiB, buffer {} MiB, workgroup storage {} KiB, {} invocations/workgroup; subgroups: {}",
            limits.max_storage_buffer_binding_size >> 20,
            limits.max_buffer_size >> 20,
            limits.max_compute_workgroup_storage_size >> 10,
            limits.max_compute_invocations_per_workgroup,
            features.contains(wgpu::Features::SUBGROUP)
        );
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            features,
            kind,
            timeout: timeout_from_env(),
            lost,
            _instance: instance,
        })
    }

    /// The process-wide context for `kind`, created on first use. Failures are cached too, so a
    /// machine without the adapter pays for the search once.
    pub fn shared(kind: DeviceKind) -> Result<Arc<GpuContext>> {
        type Cache = Mutex<HashMap<DeviceKind, std::result::Result<Arc<GpuContext>, String>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        // Holding the lock while creating serialises concurrent first uses onto one device.
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(kind).or_insert_with(|| {
            GpuContext::new(kind).map(Arc::new).map_err(|e| match e {
                Error::Gpu(msg) => msg,
                other => other.to_string(),
            })
        });
        entry.clone().map_err(Error::Gpu)
    }

    /// Whether the adapter is a software rasteriser (lavapipe, WARP).
    pub fn is_software(&self) -> bool {
        is_software(&self.info)
    }

    /// Whether the device was created with `Features::SUBGROUP`.
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
    }

    /// Runs `f` inside validation, out-of-memory and internal error scopes: a wgpu error raised
    /// by what `f` does on this thread becomes [`Error::GpuValidation`] naming `context`.
    pub fn scoped<T>(&self, context: &str, f: impl FnOnce() -> T) -> Result<T> {
        // Scopes are a per-thread stack; popped in reverse order (guards drop in reverse too).
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        let i = pollster::block_on(internal.pop());
        match v.or(o).or(i) {
            Some(e) => Err(Error::GpuValidation {
                context: context.to_string(),
                msg: e.to_string(),
            }),
            None => Ok(value),
        }
    }

    /// Fails when the device has been lost.
    pub fn check_alive(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            Err(Error::Gpu(format!(
                "the GPU device ({}) was lost",
                self.info.name
            )))
        } else {
            Ok(())
        }
    }

    /// Records one compute pass with `record` into a fresh encoder and submits it, without
    /// waiting; a validation error while recording becomes an error naming `what`. Returns what
    /// `record` returned and the submission (to wait on).
    pub fn submit_pass<T>(
        &self,
        what: &str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>) -> T,
    ) -> Result<(T, wgpu::SubmissionIndex)> {
        self.scoped(what, || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(what) });
            let value = {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(what),
                    timestamp_writes: None,
                });
                record(&mut pass)
            };
            (value, self.queue.submit([enc.finish()]))
        })
    }

    /// Compiles WGSL `source`; a parse or validation error becomes [`Error::GpuValidation`] with
    /// naga's message (which quotes the offending line).
    pub fn load_shader(&self, label: &str, source: &str) -> Result<wgpu::ShaderModule> {
        self.scoped(&format!("compiling shader '{label}'"), || {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
        })
    }

    /// An explicit compute bind-group layout: binding `i` is `kinds[i]`.
    pub fn bind_group_layout(&self, label: &str, kinds: &[BindingKind]) -> wgpu::BindGroupLayout {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match k {
                        BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                        BindingKind::ReadOnly => {
                            wgpu::BufferBindingType::Storage { read_only: true }
                        }
                        BindingKind::ReadWrite => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        self.device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &entries,
            })
    }

    /// A compute pipeline for `entry` of `module` with the one bind group `layout` (group 0).
    /// Workgroup memory is not zero-initialised: every gpunn kernel writes before it reads.
    pub fn compute_pipeline(
        &self,
        label: &str,
        module: &wgpu::ShaderModule,
        entry: &str,
        layout: &wgpu::BindGroupLayout,
    ) -> Result<wgpu::ComputePipeline> {
        self.scoped(&format!("building pipeline '{label}'"), || {
            let pl = self
                .device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(label),
                    bind_group_layouts: &[Some(layout)],
                    immediate_size: 0,
                });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: Some(&pl),
                    module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &[],
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })
    }
}

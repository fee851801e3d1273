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

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wgpu::util::DeviceExt;

/// Which adapter to run on (the `--device` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// The best hardware GPU on any backend; never a software adapter.
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    /// A CPU-type (software) adapter such as lavapipe or WARP.
    Software,
    /// The CPU engine (no GPU at all).
    Cpu,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 7] = [
        DeviceKind::Auto,
        DeviceKind::Vulkan,
        DeviceKind::Metal,
        DeviceKind::Dx12,
        DeviceKind::Gl,
        DeviceKind::Software,
        DeviceKind::Cpu,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Auto => "auto",
            DeviceKind::Vulkan => "vulkan",
            DeviceKind::Metal => "metal",
            DeviceKind::Dx12 => "dx12",
            DeviceKind::Gl => "gl",
            DeviceKind::Software => "software",
            DeviceKind::Cpu => "cpu",
        }
    }

    /// The one backend this kind is restricted to, if any.
    fn backend(self) -> Option<wgpu::Backend> {
        match self {
            DeviceKind::Vulkan => Some(wgpu::Backend::Vulkan),
            DeviceKind::Metal => Some(wgpu::Backend::Metal),
            DeviceKind::Dx12 => Some(wgpu::Backend::Dx12),
            DeviceKind::Gl => Some(wgpu::Backend::Gl),
            DeviceKind::Auto | DeviceKind::Software | DeviceKind::Cpu => None,
        }
    }
}

impl FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let alias = match t.as_str() {
            "gpu" => "auto",
            "vk" => "vulkan",
            "d3d12" | "directx" => "dx12",
            "gles" | "opengl" => "gl",
            "lavapipe" | "llvmpipe" | "sw" => "software",
            other => other,
        };
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| {
                format!(
                    "unknown device '{s}' (expected one of: auto, vulkan, metal, dx12, gl, software, cpu)"
                )
            })
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Adapter names of software rasterisers, as a second guard beside `DeviceType::Cpu`
/// (GL reports some adapters as `Other`).
const SOFTWARE_NAMES: [&str; 5] = [
    "llvmpipe",
    "lavapipe",
    "swiftshader",
    "softpipe",
    "microsoft basic render",
];

fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu || SOFTWARE_NAMES.iter().any(|s| name.contains(s))
}

/// Rank of a hardware device type; higher is better. `None` for software adapters.
fn hardware_rank(info: &wgpu::AdapterInfo) -> Option<u32> {
    if is_software(info) {
        return None;
    }
    Some(match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 1,
        wgpu::DeviceType::Cpu => return None,
    })
}

/// Rank of a backend; the native compute APIs before GL.
fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 1,
        _ => 0,
    }
}

fn backends_of(b: wgpu::Backend) -> wgpu::Backends {
    match b {
        wgpu::Backend::Vulkan => wgpu::Backends::VULKAN,
        wgpu::Backend::Metal => wgpu::Backends::METAL,
        wgpu::Backend::Dx12 => wgpu::Backends::DX12,
        wgpu::Backend::Gl => wgpu::Backends::GL,
        _ => wgpu::Backends::empty(),
    }
}

fn make_instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

fn adapter_name_filter() -> Option<String> {
    std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

fn timeout_from_env() -> Duration {
    const DEFAULT_SECS: f64 = 60.0;
    let secs = match std::env::var("GPUNN_GPU_TIMEOUT_SECS") {
        Ok(v) => {
            match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => s,
                _ => {
                    log::warn!("GPUNN_GPU_TIMEOUT_SECS={v:?} is not a positive number; using {DEFAULT_SECS} s");
                    DEFAULT_SECS
                }
            }
        }
        Err(_) => DEFAULT_SECS,
    };
    Duration::from_secs_f64(secs)
}

/// The hint printed when no adapter of the wanted kind exists.
fn missing_hint(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Software => {
            "install a software Vulkan driver (Debian/Ubuntu: apt-get install mesa-vulkan-drivers, for lavapipe), or use --device cpu"
        }
        DeviceKind::Vulkan => {
            "install your GPU's Vulkan driver, or mesa-vulkan-drivers for the software adapter"
        }
        DeviceKind::Gl => "install an OpenGL/EGL driver (Mesa provides llvmpipe)",
        DeviceKind::Metal => "Metal exists only on Apple platforms",
        DeviceKind::Dx12 => "DirectX 12 exists only on Windows",
        DeviceKind::Auto | DeviceKind::Cpu => {
            "install your GPU's driver; use --device software for the (slow) software adapter, or --device cpu"
        }
    }
}

/// Picks the adapter for `kind` among `adapters`; returns it with the reason it was chosen.
/// `seen` collects a description of every adapter looked at so far (over several enumerations),
/// for the error message.
fn choose_adapter(
    kind: DeviceKind,
    adapters: Vec<wgpu::Adapter>,
    name_filter: Option<&str>,
    seen: &mut Vec<String>,
) -> std::result::Result<(wgpu::Adapter, String), String> {
    seen.extend(adapters.iter().map(|a| {
        let i = a.get_info();
        format!("{} ({:?}, {})", i.name, i.device_type, i.backend)
    }));
    let described = &*seen;
    let mut candidates: Vec<(wgpu::Adapter, wgpu::AdapterInfo)> = adapters
        .into_iter()
        .map(|a| {
            let i = a.get_info();
            (a, i)
        })
        .filter(|(_, i)| kind.backend().is_none_or(|b| i.backend == b))
        .collect();
    if let Some(f) = name_filter {
        candidates.retain(|(_, i)| i.name.to_ascii_lowercase().contains(f));
        if candidates.is_empty() {
            return Err(format!(
                "no {kind} adapter matches WGPU_ADAPTER_NAME={f:?}; adapters found: [{}]",
                described.join("; ")
            ));
        }
    }
    // Score: (kind-specific preference, device type, backend). Highest wins.
    let score = |i: &wgpu::AdapterInfo| -> Option<(u32, u32, u32)> {
        match kind {
            DeviceKind::Auto => hardware_rank(i).map(|r| (1, r, backend_rank(i.backend))),
            DeviceKind::Software => is_software(i).then(|| {
                let vk = u32::from(i.backend == wgpu::Backend::Vulkan);
                (1, vk, backend_rank(i.backend))
            }),
            // A restricted backend takes hardware first, then software.
            _ => Some((1, hardware_rank(i).unwrap_or(0), 0)),
        }
    };
    let best = candidates
        .into_iter()
        .filter_map(|(a, i)| score(&i).map(|s| (s, a, i)))
        .max_by_key(|(s, _, _)| *s);
    match best {
        Some((_, a, i)) => {
            let why = match kind {
                DeviceKind::Auto => format!(
                    "best hardware adapter ({:?} on {})",
                    i.device_type, i.backend
                ),
                DeviceKind::Software => format!(
                    "software adapter requested ({:?} on {})",
                    i.device_type, i.backend
                ),
                _ => format!("{kind} backend requested ({:?})", i.device_type),
            };
            let why = match name_filter {
                Some(f) => format!("{why}, narrowed by WGPU_ADAPTER_NAME={f:?}"),
                None => why,
            };
            Ok((a, why))
        }
        None => {
            let what = match kind {
                DeviceKind::Auto => "no hardware GPU adapter found".to_string(),
                DeviceKind::Software => "no software (CPU-type) adapter found".to_string(),
                DeviceKind::Gl => "no GL adapter found".to_string(),
                k => format!("no {} adapter found", capitalised(k)),
            };
            let seen = if described.is_empty() {
                "no adapters at all".to_string()
            } else {
                format!("adapters found: [{}]", described.join("; "))
            };
            Err(format!("{what} ({seen}): {}", missing_hint(kind)))
        }
    }
}

fn capitalised(k: DeviceKind) -> &'static str {
    match k {
        DeviceKind::Vulkan => "Vulkan",
        DeviceKind::Metal => "Metal",
        DeviceKind::Dx12 => "DX12",
        DeviceKind::Gl => "GL",
        _ => k.name(),
    }
}

/// The limits to request: WebGPU defaults clamped to what the adapter has (so downlevel GL
/// adapters still work), raised to the adapter's own values for what the kernels need.
fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let mut l = wgpu::Limits::default()
        .or_worse_values_from(adapter)
        .using_alignment(adapter.clone());
    l.max_storage_buffer_binding_size = adapter.max_storage_buffer_binding_size;
    l.max_buffer_size = adapter.max_buffer_size;
    l.max_compute_workgroup_storage_size = adapter.max_compute_workgroup_storage_size;
    l.max_compute_invocations_per_workgroup = adapter.max_compute_invocations_per_workgroup;
    l.max_compute_workgroup_size_x = adapter.max_compute_workgroup_size_x;
    l.max_compute_workgroup_size_y = adapter.max_compute_workgroup_size_y;
    l.max_compute_workgroup_size_z = adapter.max_compute_workgroup_size_z;
    l.max_compute_workgroups_per_dimension = adapter.max_compute_workgroups_per_dimension;
    l.max_storage_buffers_per_shader_stage = adapter.max_storage_buffers_per_shader_stage;
    l.max_bindings_per_bind_group = adapter.max_bindings_per_bind_group;
    l.max_uniform_buffer_binding_size = adapter.max_uniform_buffer_binding_size;
    l
}

/// What the kernels need at the least; an adapter below this is refused up front.
const MIN_STORAGE_BUFFERS_PER_STAGE: u32 = 8;

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
            return Err(Error::Shape {
                op,
                msg: format!(
                    "reading {len} elements at element {offset} from a buffer of {} bytes ({} elements)",
                    buf.size(),
                    buf.size() / 4
                ),
            });
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

/// One adapter as `gpunn devices` shows it.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    pub backend: wgpu::Backend,
    pub device_type: wgpu::DeviceType,
    pub name: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_workgroups_per_dimension: u32,
    /// SHADER_F16
    pub f16: bool,
    /// TIMESTAMP_QUERY
    pub timestamps: bool,
    /// SUBGROUP
    pub subgroups: bool,
}

impl AdapterReport {
    fn from_adapter(a: &wgpu::Adapter) -> AdapterReport {
        let i = a.get_info();
        let l = a.limits();
        let f = a.features();
        AdapterReport {
            backend: i.backend,
            device_type: i.device_type,
            name: i.name,
            driver: i.driver,
            driver_info: i.driver_info,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            f16: f.contains(wgpu::Features::SHADER_F16),
            timestamps: f.contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroups: f.contains(wgpu::Features::SUBGROUP),
        }
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.0} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

impl fmt::Display for AdapterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        writeln!(
            f,
            "{} [{}, {:?}]",
            self.name, self.backend, self.device_type
        )?;
        let driver = match (self.driver.is_empty(), self.driver_info.is_empty()) {
            (true, true) => "unknown".to_string(),
            (false, true) => self.driver.clone(),
            (true, false) => self.driver_info.clone(),
            (false, false) => format!("{} ({})", self.driver, self.driver_info),
        };
        writeln!(f, "  driver:                    {driver}")?;
        writeln!(
            f,
            "  storage binding / buffer:  {} / {}",
            human_bytes(self.max_storage_buffer_binding_size),
            human_bytes(self.max_buffer_size)
        )?;
        writeln!(
            f,
            "  workgroup:                 {} invocations, x up to {}, {} shared memory",
            self.max_compute_invocations_per_workgroup,
            self.max_compute_workgroup_size_x,
            human_bytes(self.max_compute_workgroup_storage_size as u64)
        )?;
        writeln!(
            f,
            "  workgroups per dimension:  {}",
            self.max_compute_workgroups_per_dimension
        )?;
        write!(
            f,
            "  f16: {}   timestamps: {}   subgroups: {}",
            yes(self.f16),
            yes(self.timestamps),
            yes(self.subgroups)
        )
    }
}

/// Every adapter on every backend, native backends first.
pub fn list_adapters() -> Vec<AdapterReport> {
    let backends = wgpu::Backends::all();
    let instance = make_instance(backends);
    let mut reports: Vec<AdapterReport> = pollster::block_on(instance.enumerate_adapters(backends))
        .iter()
        .map(AdapterReport::from_adapter)
        .collect();
    reports.sort_by_key(|r| std::cmp::Reverse(backend_rank(r.backend)));
    reports
}

//! Choosing an adapter for a [`DeviceKind`], the limits to request from it, and the report of
//! every adapter that `gpunn devices` prints.

use super::DeviceKind;
use std::fmt;
use std::time::Duration;

/// Adapter names of software rasterisers, as a second guard beside `DeviceType::Cpu`
/// (GL reports some adapters as `Other`).
pub(super) const SOFTWARE_NAMES: [&str; 5] = [
    "llvmpipe",
    "lavapipe",
    "swiftshader",
    "softpipe",
    "microsoft basic render",
];

pub(super) fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu || SOFTWARE_NAMES.iter().any(|s| name.contains(s))
}

/// Rank of a hardware device type; higher is better. `None` for software adapters.
pub(super) fn hardware_rank(info: &wgpu::AdapterInfo) -> Option<u32> {
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
pub(super) fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 1,
        _ => 0,
    }
}

pub(super) fn backends_of(b: wgpu::Backend) -> wgpu::Backends {
    match b {
        wgpu::Backend::Vulkan => wgpu::Backends::VULKAN,
        wgpu::Backend::Metal => wgpu::Backends::METAL,
        wgpu::Backend::Dx12 => wgpu::Backends::DX12,
        wgpu::Backend::Gl => wgpu::Backends::GL,
        _ => wgpu::Backends::empty(),
    }
}

pub(super) fn make_instance(backends: wgpu::Backends) -> wgpu::Instance {
    quiet_runtime_dir();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Gives the process an `XDG_RUNTIME_DIR` when it has none. Without one, the window-system
/// client libraries that the Vulkan and EGL drivers load while probing print `error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment.` to stderr, an error the caller
/// did not cause (on headless machines, in containers, under `env -u`). Done once, before the
/// first instance; a variable the user set to a directory is left alone.
fn quiet_runtime_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let unset = std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|v| v.is_empty());
        if cfg!(unix) && unset {
            // Nothing is written there by the probes; the system's temporary directory is
            // what they need to find.
            std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
    });
}

pub(super) fn adapter_name_filter() -> Option<String> {
    std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

pub(super) fn timeout_from_env() -> Duration {
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
pub(super) fn missing_hint(kind: DeviceKind) -> &'static str {
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
pub(super) fn choose_adapter(
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

pub(super) fn capitalised(k: DeviceKind) -> &'static str {
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
pub(super) fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
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
pub(super) const MIN_STORAGE_BUFFERS_PER_STAGE: u32 = 8;

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

//! [`DeviceKind`]: which adapter to run on (the `--device` flag and the run's `device`).

use std::fmt;
use std::str::FromStr;

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
    pub(super) fn backend(self) -> Option<wgpu::Backend> {
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
        // 'gpu' is no alias: auto may pick the CPU, and a GPU kind names its API.
        if t == "gpu" {
            return Err(format!(
                "unknown device '{s}': name the GPU's API (vulkan, metal, dx12, gl), or auto for \
                 a hardware GPU when there is one, else the CPU (expected one of: auto, vulkan, \
                 metal, dx12, gl, software, cpu)"
            ));
        }
        let alias = match t.as_str() {
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

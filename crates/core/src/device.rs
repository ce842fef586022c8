//! Choosing where the network runs: `cpu`, `cuda` or `cuda:N`.
//!
//! The PyTorch wheel splits libtorch into a CPU and a CUDA library, and the CUDA one makes the
//! GPU visible only by being loaded. Nothing in the binary calls it by name, so the linker
//! drops it (tch-rs issues #291, #907, #980), and `--device cuda` would find no GPU on a
//! machine that has one. It is loaded here, when a GPU is asked for: linking it always would
//! cost every CPU-only process about 130 MB of private memory and 0.2 s at start.

use std::sync::OnceLock;

use tch::{Cuda, Device};

use crate::{Error, Result};

/// Parses a device name, failing clearly when CUDA is asked for and there is none.
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    let index = match name.as_str() {
        "cpu" => return Ok(Device::Cpu),
        "cuda" | "gpu" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => i,
            _ => return Err(Error::UnknownDevice(name)),
        },
    };
    load_cuda_library();
    let count = if Cuda::is_available() {
        Cuda::device_count()
    } else {
        0
    };
    if (index as i64) < count {
        // The shapes a run sends are few and repeat (one input size, a few batch sizes), so
        // cuDNN's one-off search for the fastest convolution per shape pays for itself.
        Cuda::cudnn_set_benchmark(true);
        Ok(Device::Cuda(index))
    } else {
        Err(Error::CudaUnavailable)
    }
}

/// Loads libtorch's CUDA library once, from the folder the binary's rpath names (where the
/// CPU library came from); whether it loaded. Without a GPU build of libtorch it is absent and
/// CUDA stays unavailable, which [`parse_device`] reports.
fn load_cuda_library() -> bool {
    static LOADED: OnceLock<bool> = OnceLock::new();
    *LOADED.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
            // SAFETY: the library's initialisers register its CUDA backend with the libtorch
            // already loaded, as they do when PyTorch itself loads it; it is never unloaded.
            #[allow(unsafe_code)]
            let library =
                unsafe { Library::open(Some("libtorch_cuda.so"), RTLD_NOW | RTLD_GLOBAL) };
            library.map(std::mem::forget).is_ok()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    })
}

/// A short name for a device, as a user would type it.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(0) => "cuda".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_unknown_names() {
        assert_eq!(parse_device("CPU").unwrap(), Device::Cpu);
        let err = parse_device("tpu").unwrap_err().to_string();
        assert!(err.contains("unknown device \"tpu\""), "{err}");
        assert!(matches!(
            parse_device("cuda:x"),
            Err(Error::UnknownDevice(_))
        ));
    }

    #[test]
    fn cuda_is_refused_clearly_without_a_gpu() {
        if Cuda::is_available() {
            return; // this machine has one; the error path cannot be exercised here
        }
        let err = parse_device("cuda").unwrap_err();
        assert!(matches!(err, Error::CudaUnavailable));
        assert!(err.to_string().contains("--device cpu"));
    }
}

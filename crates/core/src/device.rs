//! Choosing where the network runs: `cpu`, `cuda` or `cuda:N`.

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
    let count = if Cuda::is_available() {
        Cuda::device_count()
    } else {
        0
    };
    if (index as i64) < count {
        Ok(Device::Cuda(index))
    } else {
        Err(Error::CudaUnavailable)
    }
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

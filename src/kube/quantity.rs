//! Kubernetes quantities (`512Mi`, `1.5`, `1500m`) for memory and CPU
//! limits.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Bytes, with the largest binary suffix that divides them.
pub fn memory(bytes: u64) -> Quantity {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if bytes % (1u64 << shift) == 0 {
            return Quantity(format!("{}{suffix}", bytes >> shift));
        }
    }
    Quantity(bytes.to_string())
}

/// Percent of one CPU as millicores.
pub fn cpu(percent: u32) -> Quantity {
    Quantity(format!("{}m", u64::from(percent) * 10))
}

/// A quantity's value: a decimal number (with an optional exponent) and an
/// optional suffix (binary Ki..Ei, decimal k..E, or m for thousandths).
fn value(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
    let (num, suffix) = q.split_at(split);
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b".+-eE".contains(&b)) {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let m = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    let v = n * m;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// A memory limit in bytes (a fraction of a byte rounds up).
pub fn parse_memory(q: &Quantity) -> Option<u64> {
    let v = value(&q.0)?.ceil();
    (v >= 1.0 && v < u64::MAX as f64).then_some(v as u64)
}

/// A CPU limit in percent of one CPU (rounded up to a whole percent).
pub fn parse_cpu(q: &Quantity) -> Option<u32> {
    let v = (value(&q.0)? * 100.0 - 1e-9).ceil();
    (v >= 1.0 && v <= u32::MAX as f64).then_some(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_round_trip_and_parse() {
        for b in [1u64, 1000, 1024, 512 << 20, 3 << 30, (1 << 20) + 1] {
            assert_eq!(parse_memory(&memory(b)), Some(b), "{b}");
        }
        assert_eq!(memory(512 << 20).0, "512Mi");
        for p in [1u32, 50, 150, 400] {
            assert_eq!(parse_cpu(&cpu(p)), Some(p), "{p}");
        }
        let q = |s: &str| Quantity(s.into());
        assert_eq!(parse_memory(&q("1G")), Some(1_000_000_000));
        assert_eq!(parse_memory(&q("1.5Gi")), Some(3 << 29));
        assert_eq!(parse_memory(&q("1e3")), Some(1000));
        assert_eq!(parse_cpu(&q("0.5")), Some(50));
        assert_eq!(parse_cpu(&q("2")), Some(200));
        assert_eq!(parse_cpu(&q("250m")), Some(25));
        for bad in ["", "abc", "1Qi", "-1", "1.2.3"] {
            assert_eq!(parse_memory(&q(bad)), None, "{bad}");
        }
        assert_eq!(parse_cpu(&q("0")), None);
    }
}

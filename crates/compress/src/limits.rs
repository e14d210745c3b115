//! Decompression limits: how much output a caller accepts, in total and relative to the input.

use crate::error::{Error, Result};

/// What a decompressor may produce. There is deliberately no default: the caller states the
/// largest output it can afford (a record block is at most a few MiB; a file body can be
/// gigabytes and goes through the stream API).
///
/// Blocks are checked against their *declared* size before any output is allocated; streams
/// are checked as output is produced, so they never write past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_output: u64,
    max_ratio: Option<u32>,
}

impl Limits {
    /// At most `max_output` bytes of output, no ratio limit.
    pub const fn new(max_output: u64) -> Self {
        Self {
            max_output,
            max_ratio: None,
        }
    }

    /// Also refuse output larger than `ratio` times the stored size (at least 1:1). A sensible
    /// value for record blocks is a few hundred: JSON records reach 10–50:1, while a crafted
    /// frame of zeros reaches 30,000:1. Leave it unset for files that may legitimately be
    /// sparse (disk images, zero-filled exports).
    pub const fn with_max_ratio(self, ratio: u32) -> Self {
        let ratio = if ratio == 0 { 1 } else { ratio };
        Self {
            max_output: self.max_output,
            max_ratio: Some(ratio),
        }
    }

    /// The output limit in bytes.
    pub const fn max_output(&self) -> u64 {
        self.max_output
    }

    /// The ratio limit, if any.
    pub const fn max_ratio(&self) -> Option<u32> {
        self.max_ratio
    }

    /// Checks an output size alone (when the stored size is not known yet).
    pub(crate) fn check_output(&self, output: u64) -> Result<()> {
        if output > self.max_output {
            return Err(Error::OutputTooLarge {
                size: output,
                limit: self.max_output,
            });
        }
        Ok(())
    }

    /// Checks `output` bytes produced (or declared) from `input` stored bytes.
    pub(crate) fn check(&self, output: u64, input: u64) -> Result<()> {
        self.check_output(output)?;
        match self.max_ratio {
            Some(limit) if u128::from(output) > u128::from(limit) * u128::from(input) => {
                Err(Error::RatioExceeded {
                    output,
                    input,
                    limit,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_ratio_limits() {
        let limits = Limits::new(1000).with_max_ratio(10);
        assert!(limits.check(1000, 100).is_ok());
        assert!(matches!(
            limits.check(1001, 1000),
            Err(Error::OutputTooLarge { .. })
        ));
        assert!(matches!(
            limits.check(1000, 99),
            Err(Error::RatioExceeded { .. })
        ));
        assert!(Limits::new(u64::MAX).check(u64::MAX, 0).is_ok());
        let ratio_zero = Limits::new(10).with_max_ratio(0);
        assert_eq!(ratio_zero.max_ratio(), Some(1));
        assert!(ratio_zero.check(5, 5).is_ok());
    }
}

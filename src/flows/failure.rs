//! Why an attempt at a run failed, classified: the code and message the run shows, and
//! whether another attempt could succeed.

use crate::lake::LakeError;
use crate::sources::SourceError;
use crate::store::RunError;

/// The code of a run whose attempts all died without ending it (their process was killed
/// or lost its lease each time).
pub const RUN_ABANDONED: &str = "RUN_ABANDONED";

/// A classified failure, as `statusSummary.errors` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    pub code: String,
    pub message: String,
    /// Retrying may mend it (a connection reset, a timeout, a busy table).
    pub transient: bool,
}

impl RunFailure {
    /// A failure that retrying cannot mend (configuration, authentication, data).
    pub fn permanent(code: &str, message: impl Into<String>) -> RunFailure {
        RunFailure {
            code: code.to_string(),
            message: message.into(),
            transient: false,
        }
    }

    /// A failure inside Inlet (its metadata store): worth retrying.
    pub fn internal(error: impl std::fmt::Display) -> RunFailure {
        RunFailure {
            code: "INTERNAL".into(),
            message: format!("Inlet failed: {error}"),
            transient: true,
        }
    }

    /// The failure as a run's error entry.
    pub fn to_error(&self) -> RunError {
        RunError {
            code: self.code.clone(),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RunFailure {}

impl From<LakeError> for RunFailure {
    fn from(error: LakeError) -> RunFailure {
        match error {
            // The stream's own failure (the source, the mapping) comes back through the lake.
            LakeError::Input(inner) => match inner.downcast::<RunFailure>() {
                Ok(failure) => *failure,
                Err(other) => RunFailure::permanent("INPUT_FAILED", other.to_string()),
            },
            LakeError::Conflict { .. } | LakeError::Delta(_) => RunFailure {
                code: "LAKE_FAILED".into(),
                message: error.to_string(),
                transient: true,
            },
            other => RunFailure::permanent("LAKE_REJECTED", other.to_string()),
        }
    }
}

impl From<SourceError> for RunFailure {
    fn from(error: SourceError) -> RunFailure {
        RunFailure {
            code: format!("SOURCE_{}", error.kind.code()),
            transient: error.kind.is_transient(),
            message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::SourceErrorKind;

    #[test]
    fn failures_keep_their_class_through_the_lake() {
        let source = RunFailure::from(SourceError::new(SourceErrorKind::Unsupported, "NaN in t.x"));
        assert_eq!((source.code.as_str(), source.transient), ("SOURCE_UNSUPPORTED", false));
        let through = RunFailure::from(LakeError::Input(Box::new(source.clone())));
        assert_eq!(through, source, "the stream's own failure comes back unchanged");
        let conflict = RunFailure::from(LakeError::Conflict {
            dataset: "d".into(),
            attempts: 10,
        });
        assert!(conflict.transient && conflict.code == "LAKE_FAILED");
    }
}

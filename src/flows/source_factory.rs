//! Where runs read: the [`SourceFactory`] the engine is given. Real databases are its
//! implementation; the engine's unit tests give it a fake.

use crate::sources::config::SourceConfig;
use crate::sources::connect::ConnectOptions;
use crate::sources::source::{Source, open};

/// Opens the source a run reads from.
pub trait SourceFactory: Send + Sync {
    /// The source for `config`.
    fn open(&self, config: SourceConfig) -> Box<dyn Source>;
}

/// PostgreSQL and Redshift databases, connected with `options`.
pub struct Databases {
    pub options: ConnectOptions,
}

impl SourceFactory for Databases {
    fn open(&self, config: SourceConfig) -> Box<dyn Source> {
        open(config, self.options.clone())
    }
}

//! Source databases: one [`source::Source`] trait with a PostgreSQL and an Amazon Redshift
//! implementation. A source connects (with the connection's TLS mode), tests, explores
//! (tables, columns with their Inlet and XDM types, previews of rows), and reads.

pub mod changes;
pub mod config;
pub mod conn_string;
pub mod connect;
pub mod egress;
pub mod error;
pub mod limits;
pub mod postgres;
pub mod read;
pub mod redshift;
pub mod schema;
pub mod source;
pub mod ssl_mode;
pub mod table_ref;
pub mod tls;
pub mod trust_file;
pub mod types;
pub mod url;
pub mod values;

pub use error::{SourceError, SourceErrorKind};
pub use table_ref::TableRef;

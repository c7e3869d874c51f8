//! Source databases: the parsed configuration of a source connection, the
//! connection-string grammar of the PostgreSQL spec, and TLS modes.

pub mod config;
pub mod conn_string;
pub mod ssl_mode;

//! The Amazon Redshift source. Redshift speaks PostgreSQL's wire protocol but is not
//! PostgreSQL: only SQL that Redshift has is sent (see `explore::FORBIDDEN_IN_REDSHIFT`),
//! the catalog is read through `information_schema`, and reads use a cursor.

pub mod explore;
pub mod read;

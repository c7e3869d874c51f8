//! The PostgreSQL source. Explore reads the system catalogs (`pg_class`, `pg_attribute`,
//! `pg_type`) directly, so it sees every relation kind and resolves domains and arrays to
//! the types they are made of. Reads decode binary `COPY` straight into Arrow, in
//! partitions that share one snapshot.

pub mod cdc;
mod copy_binary;
mod decode;
pub mod explore;
mod numeric;
pub mod partition;
pub mod read;
mod scalar;

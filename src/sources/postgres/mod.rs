//! The PostgreSQL source. Explore reads the system catalogs (`pg_class`, `pg_attribute`,
//! `pg_type`) directly, so it sees every relation kind and resolves domains and arrays to
//! the types they are made of.

pub mod explore;

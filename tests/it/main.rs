//! Inlet's integration tests: one binary, real servers (PostgreSQL and `inlet serve`).

mod alerts;
mod api_tester;
mod auth;
mod catalog_api;
mod common;
mod connections;
mod console;
mod dataflows;
mod explore;
mod flows_api;
mod harness;
mod lake;
mod lake_types;
mod list_parity;
mod lists_and_bounds;
mod read;
mod real_clients;
mod s3;
mod secrets;
mod security;
mod service;
mod source_api;
mod source_connect;
mod store;
mod store_runs;

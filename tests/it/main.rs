//! Inlet's integration tests: one binary, real servers (PostgreSQL and `inlet serve`).

mod auth;
mod common;
mod connections;
mod explore;
mod flows_api;
mod harness;
mod secrets;
mod service;
mod source_api;
mod source_connect;
mod store;

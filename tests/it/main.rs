//! Inlet's integration tests: one binary, real servers (PostgreSQL and `inlet serve`).

mod auth;
mod common;
mod connections;
mod explore;
mod harness;
mod read;
mod secrets;
mod service;
mod source_api;
mod source_connect;
mod store;

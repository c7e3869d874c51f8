#![allow(dead_code)]

pub mod delta;
pub mod pg;
pub mod server;

#![allow(dead_code)]

pub mod delta;
pub mod pg;
pub mod s3;
pub mod server;

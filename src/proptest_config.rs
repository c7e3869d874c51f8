//! How many cases each property test (the fuzzing targets, see docs/development.md)
//! runs: `INLET_PROPTEST_CASES`, 256 by default, so CI stays quick while a developer can
//! run millions locally. Failures are not persisted to files: a case found is kept as a
//! unit test beside the target.

use proptest::test_runner::Config;

/// The cases of one target unless `INLET_PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 256;

/// The runner configuration every target uses.
pub fn config() -> Config {
    let cases = std::env::var("INLET_PROPTEST_CASES")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

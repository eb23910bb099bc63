//! `.npy` / `.npz` parsing of untrusted bytes: `parse_npy` and `read_npz_bytes` must return `Ok`
//! or `Err`; a panic escaping them aborts (a crash).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::abort_on_escaping_panic(|| harness::npy(data));
});

//! One table of a scene log replaced by the fuzz input (`data[0] % 6` picks rig, clips,
//! ego_poses, frames, objects or map; the rest is that table's Parquet file), the other tables
//! valid. `validate` and `inspect` must return `Ok` or `Err`: a panic escaping them aborts (a
//! crash); panics the reader contains itself (`catch_unwind` around the parquet crate) do not.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::abort_on_escaping_panic(|| {
        harness::scenelog_table(data);
    });
});

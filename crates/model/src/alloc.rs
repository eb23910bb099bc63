//! Process-wide memory allocator tuning for programs that run the CPU kernels.
//!
//! A training step or a decoded chunk allocates and frees many buffers of 0.1-30 MB: activations,
//! gradients, and the packing buffers that the `gemm` crate allocates on every call. With glibc's
//! default settings, freed memory at the top of a heap is returned to the kernel once more than
//! 128 KiB is free, and large blocks are `mmap`ed and unmapped each time. Every reuse then starts
//! with page faults on zeroed pages and the unmaps shoot down TLB entries on the other cores; on
//! the rayon worker threads (each with its own malloc arena) this happens inside every GEMM call.
//! [`keep_freed_memory`] tells glibc to keep freed memory for reuse (the process keeps its peak
//! footprint). `tools/bench/tokenizer.sh` measured the effect (`docs/benchmarks.md`).

/// Keeps freed heap memory in the process instead of returning it to the kernel after every
/// free: `M_MMAP_THRESHOLD` at its maximum (32 MiB, so smaller blocks come from the reusable heap)
/// and `M_TRIM_THRESHOLD` at 2 GiB. Call it at the start of `main`, before any thread starts. A
/// no-op on targets other than Linux with glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

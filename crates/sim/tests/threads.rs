//! `simulate` writes the same bytes whatever the number of render threads (frames are rendered
//! out of order by the workers and written in order).

use std::collections::BTreeMap;
use std::path::Path;

use worldrig_scene::Rig;
use worldrig_sim::generate::WorldParams;
use worldrig_sim::simulate::{simulate, SimConfig};

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let rig = Rig::from_json(include_str!("../../../configs/rigs/cosmos-6cam-448x256.json")).unwrap();
    let rig = rig.scaled_to(112, 64).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for threads in [1, 3] {
        let cfg = SimConfig { clips: 2, frames: 5, fps: 10.0, seed: 5, rig: rig.clone(), world: WorldParams::default(), chunk_frames: 2, overwrite: false, progress: false };
        let out = tmp.path().join(format!("t{threads}"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| simulate(&cfg, &out)).unwrap();
        outputs.push(files(&out));
    }
    assert!(!outputs[0].is_empty());
    assert_eq!(outputs[0].keys().collect::<Vec<_>>(), outputs[1].keys().collect::<Vec<_>>());
    for (name, bytes) in &outputs[0] {
        assert!(bytes == &outputs[1][name], "{name} differs");
    }
}

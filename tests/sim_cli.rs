//! `worldrig sim`: bitwise-deterministic output that validates, and `--from-log` rendering the
//! real RDS-HQ map along its real trajectory through the f-theta rig.

mod common;

use std::path::Path;

use worldrig_scenelog::validate::{validate, ValidateOptions};
use worldrig_scenelog::{Diag, SceneLog};

fn file_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sim_is_deterministic_and_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let o = common::worldrig(&["sim", "--preset", "tiny", "--seed", "7", "--pedestrians", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (fa, fb) = (file_bytes(&a), file_bytes(&b));
    assert_eq!(fa.iter().map(|f| &f.0).collect::<Vec<_>>(), fb.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (x, y) in fa.iter().zip(&fb) {
        assert!(x.1 == y.1, "{} differs between two runs with the same arguments", x.0);
    }
    let r = validate(&a, &ValidateOptions::default()).unwrap();
    assert!(r.valid, "{:#?}", r.problems);
    assert_eq!(r.frames, 4 * 6);
    // A different seed gives a different world.
    let c = tmp.path().join("c");
    let o = common::worldrig(&["sim", "--preset", "tiny", "--seed", "8", "--out", c.to_str().unwrap()]);
    assert!(o.status.success());
    assert_ne!(file_bytes(&c).iter().find(|f| f.0.contains("frames")).unwrap().1, fa.iter().find(|f| f.0.contains("frames")).unwrap().1);
    // Ground truth travels with the frames: poses at every frame time, objects, map, captions.
    let log = SceneLog::open(&a).unwrap();
    let mut d = Diag::strict();
    let clips = log.read_clips(&mut d).unwrap();
    assert_eq!(clips[0].value.source.as_str(), "synthetic");
    assert!(clips[0].value.captions.len() >= 2 && clips[0].value.seed.is_some());
    let poses = log.read_ego_poses(&mut d).unwrap();
    assert_eq!(poses.values().next().unwrap().1.len(), 4);
    assert!(!log.read_map(&mut d).unwrap().is_empty());
    assert!(!log.read_objects(&mut d).unwrap().is_empty());
}

#[test]
fn bad_arguments_are_rejected_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    for args in [vec!["--layout", "spiral"], vec!["--lanes", "7"], vec!["--resolution", "12by4"], vec!["--fps", "0"]] {
        let mut a = vec!["sim", "--preset", "tiny", "--out", out.to_str().unwrap()];
        a.extend(args.iter());
        let o = common::worldrig(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!out.exists(), "{args:?} left output behind");
    }
}

#[test]
fn hd_map_of_the_real_rds_hq_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("rds");
    let o = common::worldrig(&["import", "rds-hq", common::shared().join("rds-hq-example").to_str().unwrap(), "--out", log.to_str().unwrap()]);
    assert!(o.status.success());
    let out = tmp.path().join("hdmap");
    let o = common::worldrig(&["sim", "--from-log", log.to_str().unwrap(), "--max-frames", "3", "--resolution", "448x256", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = validate(&out, &ValidateOptions::default()).unwrap();
    assert!(r.valid, "{:#?}", r.problems);
    assert_eq!(r.frames, 3 * 7);
    // The front camera sees lane lines: a good share of non-black pixels in the HD-map colours.
    let sl = SceneLog::open(&out).unwrap();
    let frames = sl.frames(true).collect_all(&mut Diag::strict()).unwrap();
    let front = frames.iter().find(|f| f.camera == "camera_front_wide_120fov").unwrap();
    let img = image::load_from_memory(&front.image).unwrap().to_rgb8();
    let lit = img.pixels().filter(|p| p.0 != [0, 0, 0]).count();
    assert!(lit > 1000, "front HD-map frame nearly empty ({lit} drawn pixels)");
    let lane_line = img.pixels().filter(|p| p.0 == [98, 183, 249]).count();
    assert!(lane_line > 50, "no lane lines drawn ({lane_line})");
}

#[test]
fn shipped_sample_dataset_is_reproduced_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    // The command in datasets/README.md.
    let o = common::worldrig(&["sim", "--clips", "1", "--frames", "4", "--resolution", "448x256", "--seed", "1", "--pedestrians", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sim-sample");
    let (a, b) = (file_bytes(&shipped), file_bytes(&out));
    assert_eq!(a.iter().map(|f| &f.0).collect::<Vec<_>>(), b.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (x, y) in a.iter().zip(&b) {
        assert!(x.1 == y.1, "datasets/sim-sample/{} is stale: regenerate it with the command in datasets/README.md", x.0);
    }
}

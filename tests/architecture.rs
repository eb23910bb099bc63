//! The crate dependency rules of docs/ARCHITECTURE.md, checked on the resolved dependency graph
//! (`cargo metadata`), transitive edges included: no deep-learning framework in the scene,
//! scene-log or checker crates; `scene` depends on no other worldrig crate; the inference pipeline
//! never depends on training.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustc = Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_string)).expect("host triple");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--filter-platform", &host, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: BTreeMap<String, String> =
        v["packages"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string())).collect();
    let members: BTreeSet<String> = v["workspace_members"].as_array().unwrap().iter().map(|id| name_of[id.as_str().unwrap()].clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let from = name_of[node["id"].as_str().unwrap()].clone();
        for dep in node["deps"].as_array().unwrap() {
            // Normal and build dependencies only: dev-dependencies do not ship.
            let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null() || k["kind"] == "build");
            if normal {
                edges.entry(from.clone()).or_default().insert(name_of[dep["pkg"].as_str().unwrap()].clone());
            }
        }
    }
    (edges, members)
}

fn closure(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_string()];
    while let Some(n) = stack.pop() {
        for d in edges.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn forbidden_dependency_edges_are_absent() {
    let (edges, members) = graph();
    assert!(members.contains("worldrig-scene") && members.contains("worldrig-scenelog"), "{members:?}");
    let no_dl = ["worldrig-scene", "worldrig-scenelog", "worldrig-sim", "worldrig-check"];
    for krate in no_dl.iter().filter(|k| members.contains(**k)) {
        let deps = closure(&edges, krate);
        let bad: Vec<_> = deps.iter().filter(|d| d.starts_with("burn") || d.starts_with("candle") || d.starts_with("tch") || d.starts_with("cubecl")).collect();
        assert!(bad.is_empty(), "{krate} must not depend on a deep-learning framework, but reaches {bad:?}");
    }
    let scene_deps = closure(&edges, "worldrig-scene");
    let internal: Vec<_> = scene_deps.iter().filter(|d| members.contains(*d)).collect();
    assert!(internal.is_empty(), "worldrig-scene must not depend on other worldrig crates: {internal:?}");
    for io in ["arrow", "parquet", "image", "tar", "zip"] {
        assert!(!scene_deps.contains(io), "worldrig-scene is I/O-free but depends on {io}");
    }
    if members.contains("worldrig-pipeline") {
        assert!(!closure(&edges, "worldrig-pipeline").contains("worldrig-train"), "pipeline must never depend on train");
    }
    // Only the binary (root package) uses anyhow.
    for m in members.iter().filter(|m| m.as_str() != "worldrig") {
        assert!(!edges.get(m).is_some_and(|d| d.contains("anyhow")), "{m} is a library and must not use anyhow");
    }
}

#[test]
fn architecture_doc_lists_every_crate() {
    let (_, members) = graph();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ARCHITECTURE.md")).unwrap();
    for m in &members {
        assert!(doc.contains(&format!("`{m}`")), "docs/ARCHITECTURE.md does not describe crate `{m}`");
    }
}

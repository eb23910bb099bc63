//! Rewriting a log in canonical form: any accepted encoding in, worldrig's canonical types,
//! codecs, row groups and metadata out. Reads strictly (the first problem is an error) and streams
//! frames batch by batch.

use std::path::Path;

use crate::error::{Diag, LogError};
use crate::reader::SceneLog;
use crate::writer::{SceneLogWriter, WriterOptions};

/// What was copied.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RewriteStats {
    pub rigs: usize,
    pub clips: usize,
    pub poses: usize,
    pub objects: usize,
    pub map_elements: usize,
    pub frames: u64,
}

pub fn rewrite(src: &Path, dst: &Path, opts: WriterOptions) -> Result<RewriteStats, LogError> {
    let log = SceneLog::open(src)?;
    let mut d = Diag::strict();
    let labels = log.read_labels(&mut d)?;
    let mut w = SceneLogWriter::create(dst, opts)?;
    let mut stats = RewriteStats::default();
    for rig in labels.rigs.into_values() {
        w.add_rig(&rig.value);
        stats.rigs += 1;
    }
    for clip in labels.clips {
        w.add_clip(clip.value);
        stats.clips += 1;
    }
    for (clip, (_, tr)) in labels.poses {
        stats.poses += tr.len();
        w.add_ego_poses(&clip, &tr);
    }
    for (clip, list) in labels.objects {
        stats.objects += list.len();
        w.add_objects(&clip, list.into_iter().map(|l| l.value).collect());
    }
    for (clip, list) in labels.map {
        stats.map_elements += list.len();
        w.add_map(&clip, list.into_iter().map(|l| l.value).collect());
    }
    let mut frames = log.frames(true);
    while let Some(batch) = frames.next_batch(&mut d)? {
        for f in batch {
            w.add_frame(f.value)?;
            stats.frames += 1;
        }
    }
    w.finish()?;
    Ok(stats)
}

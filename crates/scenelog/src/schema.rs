//! The tables and columns of a scene log, as data. `docs/scene-log-format.md` documents the same
//! (a test checks that every column here appears there).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

/// Current format version written to `worldrig:format_version`.
pub const FORMAT_VERSION: &str = "1.0";
/// Major version this reader understands.
pub const FORMAT_MAJOR: u32 = 1;
pub const META_VERSION: &str = "worldrig:format_version";
pub const META_TABLE: &str = "worldrig:table";
pub const META_WRITER: &str = "worldrig:writer";

/// Logical column types (each has one canonical Arrow type and several accepted encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Utf8,
    Binary,
    Int64,
    Int32,
    Float64,
    ListFloat64,
    ListUtf8,
}

impl ColType {
    pub fn canonical(self) -> DataType {
        match self {
            ColType::Utf8 => DataType::Utf8,
            ColType::Binary => DataType::Binary,
            ColType::Int64 => DataType::Int64,
            ColType::Int32 => DataType::Int32,
            ColType::Float64 => DataType::Float64,
            ColType::ListFloat64 => DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            ColType::ListUtf8 => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColType::Utf8 => "utf8",
            ColType::Binary => "binary",
            ColType::Int64 => "int64",
            ColType::Int32 => "int32",
            ColType::Float64 => "float64",
            ColType::ListFloat64 => "list<float64>",
            ColType::ListUtf8 => "list<utf8>",
        }
    }

    /// Whether a stored Arrow type is an accepted encoding of this logical type (see the
    /// format doc's "Types accepted on read").
    pub fn accepts(self, dt: &DataType) -> bool {
        fn is_str(dt: &DataType) -> bool {
            match dt {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
                DataType::Dictionary(_, v) => matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
                _ => false,
            }
        }
        fn is_bin(dt: &DataType) -> bool {
            match dt {
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => true,
                DataType::Dictionary(_, v) => matches!(v.as_ref(), DataType::Binary | DataType::LargeBinary | DataType::BinaryView),
                _ => false,
            }
        }
        fn is_float(dt: &DataType) -> bool {
            matches!(dt, DataType::Float64 | DataType::Float32 | DataType::Float16)
        }
        fn list_child(dt: &DataType) -> Option<&DataType> {
            match dt {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => Some(f.data_type()),
                _ => None,
            }
        }
        match self {
            ColType::Utf8 => is_str(dt),
            ColType::Binary => is_bin(dt),
            ColType::Int64 => matches!(
                dt,
                DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt32 | DataType::UInt16 | DataType::UInt8
            ),
            ColType::Int32 => matches!(dt, DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt16 | DataType::UInt8),
            ColType::Float64 => is_float(dt),
            ColType::ListFloat64 => list_child(dt).is_some_and(is_float),
            ColType::ListUtf8 => list_child(dt).is_some_and(is_str),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub ty: ColType,
    /// Must exist and hold no nulls.
    pub required: bool,
}

const fn req(name: &'static str, ty: ColType) -> ColumnSpec {
    ColumnSpec { name, ty, required: true }
}
const fn opt(name: &'static str, ty: ColType) -> ColumnSpec {
    ColumnSpec { name, ty, required: false }
}

/// The tables of a scene log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Rig,
    Clips,
    EgoPoses,
    Frames,
    Objects,
    Map,
}

use ColType::*;

const RIG: &[ColumnSpec] = &[
    req("rig_id", Utf8),
    req("camera", Utf8),
    req("model", Utf8),
    req("width_px", Int32),
    req("height_px", Int32),
    req("cx_px", Float64),
    req("cy_px", Float64),
    opt("fx_px", Float64),
    opt("fy_px", Float64),
    opt("distortion", ListFloat64),
    opt("poly", ListFloat64),
    opt("poly_direction", Utf8),
    opt("linear_c", Float64),
    opt("linear_d", Float64),
    opt("linear_e", Float64),
    req("rig_from_camera_tx_m", Float64),
    req("rig_from_camera_ty_m", Float64),
    req("rig_from_camera_tz_m", Float64),
    req("rig_from_camera_qx", Float64),
    req("rig_from_camera_qy", Float64),
    req("rig_from_camera_qz", Float64),
    req("rig_from_camera_qw", Float64),
];

const CLIPS: &[ColumnSpec] = &[
    req("clip_id", Utf8),
    req("rig_id", Utf8),
    req("start_timestamp_us", Int64),
    req("duration_us", Int64),
    req("frame_rate_hz", Float64),
    req("source", Utf8),
    opt("captions", ListUtf8),
    req("generator", Utf8),
    opt("checkpoint_sha256", Utf8),
    opt("seed", Int64),
    opt("prompt", Utf8),
    opt("trajectory_xyz_m", ListFloat64),
    opt("notes", Utf8),
];

const EGO_POSES: &[ColumnSpec] = &[
    req("clip_id", Utf8),
    req("timestamp_us", Int64),
    req("world_from_rig_tx_m", Float64),
    req("world_from_rig_ty_m", Float64),
    req("world_from_rig_tz_m", Float64),
    req("world_from_rig_qx", Float64),
    req("world_from_rig_qy", Float64),
    req("world_from_rig_qz", Float64),
    req("world_from_rig_qw", Float64),
];

const FRAMES: &[ColumnSpec] = &[
    req("clip_id", Utf8),
    req("camera", Utf8),
    req("frame_index", Int64),
    req("timestamp_us", Int64),
    req("image_format", Utf8),
    req("image", Binary),
];

const OBJECTS: &[ColumnSpec] = &[
    req("clip_id", Utf8),
    req("timestamp_us", Int64),
    req("track_id", Utf8),
    req("category", Utf8),
    req("centre_x_m", Float64),
    req("centre_y_m", Float64),
    req("centre_z_m", Float64),
    req("length_m", Float64),
    req("width_m", Float64),
    req("height_m", Float64),
    req("qx", Float64),
    req("qy", Float64),
    req("qz", Float64),
    req("qw", Float64),
];

const MAP: &[ColumnSpec] = &[
    req("clip_id", Utf8),
    req("element_id", Utf8),
    req("kind", Utf8),
    req("geometry", Utf8),
    req("vertices_xyz_m", ListFloat64),
    opt("attributes_json", Utf8),
];

impl Table {
    pub const ALL: [Table; 6] = [Table::Rig, Table::Clips, Table::EgoPoses, Table::Frames, Table::Objects, Table::Map];

    pub fn name(self) -> &'static str {
        match self {
            Table::Rig => "rig",
            Table::Clips => "clips",
            Table::EgoPoses => "ego_poses",
            Table::Frames => "frames",
            Table::Objects => "objects",
            Table::Map => "map",
        }
    }

    pub fn parse(name: &str) -> Option<Table> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Required tables must be present in every log.
    pub fn required(self) -> bool {
        matches!(self, Table::Rig | Table::Clips | Table::EgoPoses)
    }

    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Table::Rig => RIG,
            Table::Clips => CLIPS,
            Table::EgoPoses => EGO_POSES,
            Table::Frames => FRAMES,
            Table::Objects => OBJECTS,
            Table::Map => MAP,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The canonical Arrow schema worldrig writes.
    pub fn schema(self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns().iter().map(|c| Field::new(c.name, c.ty.canonical(), !c.required)).collect::<Vec<_>>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_doc_lists_every_column() {
        let doc = include_str!("../../../docs/scene-log-format.md");
        for t in Table::ALL {
            assert!(doc.contains(&format!("### `{}`", t.name())), "doc has no section for table {}", t.name());
            for c in t.columns() {
                let row = format!("| `{}` | {} | {} |", c.name, c.ty.name(), if c.required { "required" } else { "nullable" });
                assert!(doc.contains(&row), "doc does not document {}.{} as `{row}`", t.name(), c.name);
            }
        }
    }

    #[test]
    fn canonical_types_are_accepted() {
        for t in Table::ALL {
            for c in t.columns() {
                assert!(c.ty.accepts(&c.ty.canonical()));
            }
        }
        assert!(!ColType::Float64.accepts(&DataType::Utf8));
        assert!(!ColType::Utf8.accepts(&DataType::Int64));
    }
}

//! Finding a log's table files and streaming their rows as batches in canonical Arrow types.
//!
//! Files are read with the parquet crate's record-batch reader, one row group at a time (a batch
//! never spans more than one row group's decoded pages), so frames are never all in memory.
//! Every accepted encoding (see the format doc) is cast to its canonical type here, once, so
//! the typed readers see one type per column.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow::compute::cast;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::error::{Diag, Issue, Loc, LogError, Rule};
use crate::schema::{ColumnSpec, Table, FORMAT_MAJOR, META_VERSION};

/// The table files of a log directory.
#[derive(Debug, Clone)]
pub struct TableFiles {
    pub root: PathBuf,
    pub files: BTreeMap<Table, Vec<PathBuf>>,
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

impl TableFiles {
    /// Finds `<table>.parquet` files and `<table>/*.parquet` shards under `root`.
    pub fn discover(root: &Path) -> Result<Self, LogError> {
        let meta = std::fs::metadata(root).map_err(|e| LogError::io(root, e))?;
        if !meta.is_dir() {
            return Err(LogError::input(root, "a scene log is a directory of Parquet tables; this is not a directory"));
        }
        let mut files: BTreeMap<Table, Vec<PathBuf>> = BTreeMap::new();
        for t in Table::ALL {
            let mut list = Vec::new();
            let single = root.join(format!("{}.parquet", t.name()));
            if single.is_file() {
                list.push(single);
            }
            let dir = root.join(t.name());
            if dir.is_dir() {
                let mut shards: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| LogError::io(&dir, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && !is_hidden(p) && p.extension().is_some_and(|x| x == "parquet"))
                    .collect();
                shards.sort();
                list.extend(shards);
            }
            if !list.is_empty() {
                files.insert(t, list);
            }
        }
        Ok(Self { root: root.to_path_buf(), files })
    }

    pub fn has(&self, t: Table) -> bool {
        self.files.contains_key(&t)
    }

    pub fn table_files(&self, t: Table) -> &[PathBuf] {
        self.files.get(&t).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// A batch of rows of one table file, with present columns cast to their canonical types.
#[derive(Debug)]
pub struct NormBatch {
    pub table: Table,
    pub file: Arc<Path>,
    /// Row number (within the file) of the batch's first row.
    pub row0: u64,
    pub num_rows: usize,
    columns: HashMap<&'static str, ArrayRef>,
}

impl NormBatch {
    pub fn loc(&self, row: usize) -> Loc {
        Loc { file: self.file.clone(), row: self.row0 + row as u64 }
    }
    pub fn has(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }
    fn col(&self, name: &str) -> Option<&ArrayRef> {
        self.columns.get(name)
    }
    pub fn utf8(&self, name: &str) -> Option<&StringArray> {
        self.col(name).map(|a| a.as_string::<i32>())
    }
    pub fn binary(&self, name: &str) -> Option<&BinaryArray> {
        self.col(name).map(|a| a.as_binary::<i32>())
    }
    pub fn int64(&self, name: &str) -> Option<&Int64Array> {
        self.col(name).and_then(|a| a.as_any().downcast_ref())
    }
    pub fn int32(&self, name: &str) -> Option<&Int32Array> {
        self.col(name).and_then(|a| a.as_any().downcast_ref())
    }
    pub fn float64(&self, name: &str) -> Option<&Float64Array> {
        self.col(name).and_then(|a| a.as_any().downcast_ref())
    }
    pub fn list(&self, name: &str) -> Option<&ListArray> {
        self.col(name).map(|a| a.as_list::<i32>())
    }

    /// Row accessor that reports nulls and non-finite values to `diag`.
    pub fn row<'a>(&'a self, row: usize, diag: &'a mut Diag) -> Row<'a> {
        Row { b: self, row, diag, ok: true }
    }
}

/// Reads values of one row, reporting problems (null where required, NaN) with their location.
/// Each accessor returns `Ok(None)` after reporting a problem in collect mode; `ok()` tells
/// whether the row is complete.
pub struct Row<'a> {
    b: &'a NormBatch,
    row: usize,
    diag: &'a mut Diag,
    ok: bool,
}

impl<'a> Row<'a> {
    pub fn loc(&self) -> Loc {
        self.b.loc(self.row)
    }
    /// Whether every required value read so far was present and valid.
    pub fn ok(&self) -> bool {
        self.ok
    }
    pub fn report(&mut self, rule: Rule, column: &str, message: impl Into<String>) -> Result<(), LogError> {
        self.ok = false;
        let issue = Issue::at(rule, &self.b.loc(self.row), self.b.table.name(), column, message);
        self.diag.report(issue)
    }
    fn null(&mut self, column: &str) -> Result<(), LogError> {
        self.report(Rule::NullValue, column, "null in a required column")
    }
    pub fn str_req(&mut self, column: &str) -> Result<Option<&'a str>, LogError> {
        match self.str_opt(column) {
            Some(s) => Ok(Some(s)),
            None => self.null(column).map(|_| None),
        }
    }
    pub fn str_opt(&self, column: &str) -> Option<&'a str> {
        let a = self.b.utf8(column)?;
        a.is_valid(self.row).then(|| a.value(self.row))
    }
    pub fn bytes_req(&mut self, column: &str) -> Result<Option<&'a [u8]>, LogError> {
        let v = self.b.binary(column).and_then(|a| a.is_valid(self.row).then(|| a.value(self.row)));
        match v {
            Some(b) => Ok(Some(b)),
            None => self.null(column).map(|_| None),
        }
    }
    /// Binary value as a zero-copy slice of the column's buffer.
    pub fn buffer_req(&mut self, column: &str) -> Result<Option<arrow::buffer::Buffer>, LogError> {
        let v = self.b.binary(column).and_then(|a| {
            a.is_valid(self.row).then(|| {
                let offsets = a.value_offsets();
                let (start, end) = (offsets[self.row] as usize, offsets[self.row + 1] as usize);
                a.values().slice_with_length(start, end - start)
            })
        });
        match v {
            Some(b) => Ok(Some(b)),
            None => self.null(column).map(|_| None),
        }
    }
    pub fn i64_req(&mut self, column: &str) -> Result<Option<i64>, LogError> {
        match self.i64_opt(column) {
            Some(v) => Ok(Some(v)),
            None => self.null(column).map(|_| None),
        }
    }
    pub fn i64_opt(&self, column: &str) -> Option<i64> {
        let a = self.b.int64(column)?;
        a.is_valid(self.row).then(|| a.value(self.row))
    }
    pub fn i32_req(&mut self, column: &str) -> Result<Option<i32>, LogError> {
        let v = self.b.int32(column).and_then(|a| a.is_valid(self.row).then(|| a.value(self.row)));
        match v {
            Some(v) => Ok(Some(v)),
            None => self.null(column).map(|_| None),
        }
    }
    pub fn f64_req(&mut self, column: &str) -> Result<Option<f64>, LogError> {
        match self.f64_opt(column)? {
            Some(v) => Ok(Some(v)),
            None if self.b.float64(column).is_some_and(|a| a.is_null(self.row)) || !self.b.has(column) => {
                self.null(column).map(|_| None)
            }
            None => Ok(None),
        }
    }
    /// A nullable float: `Ok(None)` when null or absent; non-finite values are reported.
    pub fn f64_opt(&mut self, column: &str) -> Result<Option<f64>, LogError> {
        let Some(a) = self.b.float64(column) else { return Ok(None) };
        if a.is_null(self.row) {
            return Ok(None);
        }
        let v = a.value(self.row);
        if !v.is_finite() {
            self.report(Rule::NonFinite, column, format!("value {v} is not finite"))?;
            return Ok(None);
        }
        Ok(Some(v))
    }
    /// A list of finite floats; `Ok(None)` when null or absent (reported when `required`).
    pub fn f64_list(&mut self, column: &str, required: bool) -> Result<Option<Vec<f64>>, LogError> {
        let v = self.b.list(column).and_then(|a| a.is_valid(self.row).then(|| a.value(self.row)));
        let Some(values) = v else {
            if required {
                self.null(column)?;
            }
            return Ok(None);
        };
        let f = values.as_primitive::<arrow::datatypes::Float64Type>();
        if f.null_count() > 0 {
            self.report(Rule::NullValue, column, "null element in a list")?;
            return Ok(None);
        }
        let out: Vec<f64> = f.values().to_vec();
        if let Some(bad) = out.iter().find(|v| !v.is_finite()) {
            self.report(Rule::NonFinite, column, format!("list element {bad} is not finite"))?;
            return Ok(None);
        }
        Ok(Some(out))
    }
    /// A list of strings; `None` when null or absent.
    pub fn str_list(&mut self, column: &str) -> Result<Option<Vec<String>>, LogError> {
        let v = self.b.list(column).and_then(|a| a.is_valid(self.row).then(|| a.value(self.row)));
        let Some(values) = v else { return Ok(None) };
        let s = values.as_string::<i32>();
        if s.null_count() > 0 {
            self.report(Rule::NullValue, column, "null element in a list")?;
            return Ok(None);
        }
        Ok(Some(s.iter().flatten().map(str::to_string).collect()))
    }
}

/// Runs `f`, turning a panic inside a dependency (the parquet crate asserts on some corrupt
/// inputs) into an error message, so a malformed file is reported, never a crash.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the Parquet decoder failed".to_string())
    })
}

/// Column-chunk offsets and sizes the decoder trusts; returns the first impossible one.
fn check_column_chunks(meta: &parquet::file::metadata::ParquetMetaData) -> Option<String> {
    for (g, rg) in meta.row_groups().iter().enumerate() {
        for (c, col) in rg.columns().iter().enumerate() {
            let bad = col.data_page_offset() < 0
                || col.compressed_size() < 0
                || col.dictionary_page_offset().is_some_and(|o| o < 0)
                || col.index_page_offset().is_some_and(|o| o < 0);
            if bad {
                return Some(format!("row group {g}, column chunk {c} has a negative offset or size"));
            }
        }
    }
    None
}

/// Opens one table file: checks format version and columns, and builds a streaming reader over
/// the present wanted columns. Problems are reported to `diag`; `Ok(None)` means the file's rows
/// cannot be read (already reported).
fn open_file(
    table: Table,
    path: &Path,
    wanted: &[&'static ColumnSpec],
    batch_rows: usize,
    diag: &mut Diag,
) -> Result<Option<(ParquetRecordBatchReader, Vec<&'static ColumnSpec>)>, LogError> {
    let tname = Some(table.name());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("cannot open: {e}")))?;
            return Ok(None);
        }
    };
    // The parquet crate panics on some corrupt metadata: contain it as an unreadable file.
    let builder = match guard(|| ParquetRecordBatchReaderBuilder::try_new(file)) {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("not a readable Parquet file: {e}")))?;
            return Ok(None);
        }
        Err(panic) => {
            diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("corrupt Parquet file: {panic}")))?;
            return Ok(None);
        }
    };
    if let Some(problem) = check_column_chunks(builder.metadata()) {
        diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("corrupt Parquet metadata: {problem}")))?;
        return Ok(None);
    }
    if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
        if let Some(v) = kv.iter().find(|k| k.key == META_VERSION).and_then(|k| k.value.as_deref()) {
            let major = v.split('.').next().and_then(|m| m.trim().parse::<u32>().ok());
            match major {
                Some(m) if m <= FORMAT_MAJOR => {}
                _ => {
                    diag.report(Issue::file(
                        Rule::UnsupportedVersion,
                        path,
                        tname,
                        format!("format version `{v}` is not supported by this reader (major {FORMAT_MAJOR})"),
                    ))?;
                    return Ok(None);
                }
            }
        }
    }
    let schema = builder.schema().clone();
    let mut roots = Vec::new();
    let mut present = Vec::new();
    let mut usable = true;
    for spec in wanted {
        match schema.index_of(spec.name) {
            Ok(i) => {
                let dt = schema.field(i).data_type();
                if spec.ty.accepts(dt) {
                    roots.push(i);
                    present.push(*spec);
                } else {
                    usable = false;
                    diag.report(
                        Issue::file(
                            Rule::WrongType,
                            path,
                            tname,
                            format!("column has type {dt}, expected {} (or an accepted encoding)", spec.ty.name()),
                        )
                        .with_column(spec.name),
                    )?;
                }
            }
            Err(_) if spec.required => {
                usable = false;
                diag.report(Issue::file(Rule::MissingColumn, path, tname, "required column is missing").with_column(spec.name))?;
            }
            Err(_) => {}
        }
    }
    if !usable {
        return Ok(None);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    match guard(|| builder.with_projection(mask).with_batch_size(batch_rows).build()) {
        Ok(Ok(r)) => Ok(Some((r, present))),
        Ok(Err(e)) => {
            diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("cannot read: {e}")))?;
            Ok(None)
        }
        Err(panic) => {
            diag.report(Issue::file(Rule::UnreadableFile, path, tname, format!("corrupt Parquet file: {panic}")))?;
            Ok(None)
        }
    }
}

/// Streams the rows of one table across all its files.
pub struct TableReader<'f> {
    table: Table,
    files: &'f [PathBuf],
    next_file: usize,
    wanted: Vec<&'static ColumnSpec>,
    batch_rows: usize,
    current: Option<(Arc<Path>, ParquetRecordBatchReader, Vec<&'static ColumnSpec>, u64)>,
}

impl<'f> TableReader<'f> {
    /// Reads `columns` (all of the table's when `None`).
    pub fn new(files: &'f TableFiles, table: Table, columns: Option<&[&str]>, batch_rows: usize) -> Self {
        let wanted = match columns {
            None => table.columns().iter().collect(),
            Some(names) => table.columns().iter().filter(|c| names.contains(&c.name)).collect(),
        };
        Self { table, files: files.table_files(table), next_file: 0, wanted, batch_rows: batch_rows.max(1), current: None }
    }

    /// The next batch, or `None` at the end. Problems go to `diag`; in collect mode an unreadable
    /// file is reported and skipped.
    pub fn next_batch(&mut self, diag: &mut Diag) -> Result<Option<NormBatch>, LogError> {
        loop {
            if let Some((path, reader, present, row0)) = &mut self.current {
                let next = match guard(|| reader.next()) {
                    Ok(n) => n,
                    Err(panic) => Some(Err(arrow::error::ArrowError::ExternalError(panic.into()))),
                };
                match next {
                    Some(Ok(batch)) => {
                        let nb = normalize(self.table, path, *row0, &batch, present, diag)?;
                        *row0 += batch.num_rows() as u64;
                        match nb {
                            Some(nb) => return Ok(Some(nb)),
                            None => {
                                self.current = None;
                                continue;
                            }
                        }
                    }
                    Some(Err(e)) => {
                        let issue = Issue {
                            rule: Rule::UnreadableFile,
                            file: path.to_path_buf(),
                            table: Some(self.table.name()),
                            row: Some(*row0),
                            column: None,
                            message: format!("cannot decode rows from here on: {e}"),
                        };
                        self.current = None;
                        diag.report(issue)?;
                        continue;
                    }
                    None => {
                        self.current = None;
                        continue;
                    }
                }
            }
            let Some(path) = self.files.get(self.next_file) else { return Ok(None) };
            self.next_file += 1;
            if let Some((reader, present)) = open_file(self.table, path, &self.wanted, self.batch_rows, diag)? {
                self.current = Some((Arc::from(path.as_path()), reader, present, 0));
            }
        }
    }
}

fn normalize(
    table: Table,
    path: &Arc<Path>,
    row0: u64,
    batch: &RecordBatch,
    present: &[&'static ColumnSpec],
    diag: &mut Diag,
) -> Result<Option<NormBatch>, LogError> {
    let mut columns = HashMap::with_capacity(present.len());
    for spec in present {
        let Some(arr) = batch.column_by_name(spec.name) else { continue };
        let target = spec.ty.canonical();
        let arr = if arr.data_type() == &target {
            arr.clone()
        } else {
            match cast(arr, &target) {
                Ok(a) => a,
                Err(e) => {
                    diag.report(
                        Issue::file(Rule::WrongType, path, Some(table.name()), format!("cannot convert {} to {}: {e}", arr.data_type(), spec.ty.name()))
                            .with_column(spec.name),
                    )?;
                    return Ok(None);
                }
            }
        };
        columns.insert(spec.name, arr);
    }
    Ok(Some(NormBatch { table, file: path.clone(), row0, num_rows: batch.num_rows(), columns }))
}

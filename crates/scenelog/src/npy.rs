//! A small reader for NumPy `.npy` arrays and `.npz` archives.
//!
//! [`parse_npy`] reads one `.npy` file (format versions 1–3, see
//! <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>). Numeric dtypes
//! (`f4`, `f8`, `i1`–`i8`, `u1`–`u8`, `b1`, either byte order) are converted to `f64` in C order;
//! object arrays (`|O`) are unpickled into a [`PyValue`]. [`read_npz`] and [`read_npz_bytes`] read
//! every `*.npy` entry (stored or deflated) of an `.npz` zip archive.
//!
//! Only a safe subset of pickle (binary protocols 2–5) is interpreted: no code is executed and
//! nothing is imported. A few well-known callables are evaluated as data (NumPy dtypes, scalars
//! and arrays, `_codecs.encode`, `bytes`, `bytearray`, `OrderedDict`); any other global or
//! reduction is kept as [`PyValue::Global`] / [`PyValue::Object`]. Input is untrusted: lengths
//! are checked against the bytes present, and nesting depth, memo size and total work are
//! bounded, so malformed input yields an [`NpyError`], never a panic or a huge allocation.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};
use std::path::Path;

use PyValue as V;

const MAGIC: &[u8] = b"\x93NUMPY";
/// Deepest nesting of an unpickled value.
const MAX_DEPTH: usize = 100;
/// Most memo entries one pickle may define.
const MAX_MEMO: usize = 1 << 20;
/// Largest decompressed `.npz` entry.
const MAX_ENTRY_BYTES: u64 = 1 << 30;
const MULTIARRAY: [&str; 2] = ["numpy.core.multiarray", "numpy._core.multiarray"];
const BUILTINS: [&str; 2] = ["builtins", "__builtin__"];

/// Errors from reading `.npy` / `.npz` data.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file (bad magic string)")]
    BadMagic,
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    #[error("unsupported dtype {0:?}")]
    UnsupportedDtype(String),
    /// Byte counts of the whole `.npy` input.
    #[error("truncated .npy data: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    /// `offset` is the position of the offending opcode within the pickle stream.
    #[error("malformed or unsupported pickle at byte {offset}: {reason}")]
    Pickle { offset: usize, reason: String },
    #[error("zip archive: {0}")]
    Zip(String),
    #[error("I/O: {0}")]
    Io(String),
    #[error("missing entry {0:?}")]
    MissingEntry(String),
    /// An error in one `.npz` entry.
    #[error("entry {name:?}: {source}")]
    InEntry { name: String, source: Box<NpyError> },
}

/// A Python value produced by unpickling.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
    /// A numeric numpy ndarray reconstructed inside the pickle; `data` is in C order.
    Array {
        shape: Vec<usize>,
        data: Vec<f64>,
    },
    /// A global (class or function) reference, never resolved.
    Global {
        module: String,
        name: String,
    },
    /// Any other reduced object: `callable(*args)`, then `__setstate__(state)`.
    Object {
        callable: Box<PyValue>,
        args: Box<PyValue>,
        state: Option<Box<PyValue>>,
    },
}

impl PyValue {
    /// The value as a number: `Int`, `Float`, `Bool`, or a one-element `Array`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            V::Bool(b) => Some(f64::from(u8::from(*b))),
            V::Array { data, .. } if data.len() == 1 => data.first().copied(),
            _ => None,
        }
    }

    /// The value as numbers: a `List`/`Tuple` of [`Self::as_f64`] values, or an `Array`.
    pub fn as_f64_vec(&self) -> Option<Vec<f64>> {
        match self {
            V::List(v) | V::Tuple(v) => v.iter().map(Self::as_f64).collect(),
            V::Array { data, .. } => Some(data.clone()),
            _ => None,
        }
    }

    /// The value stored under the string key `key`, if `self` is a `Dict`.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        let V::Dict(items) = self else { return None };
        items
            .iter()
            .find(|(k, _)| matches!(k, V::Str(s) if s == key))
            .map(|(_, v)| v)
    }
}

/// The payload of an [`NpyArray`].
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// Numeric elements (any supported dtype) converted to `f64`, in C (row-major) order.
    F64(Vec<f64>),
    /// The unpickled object array: its element for a 0-d array, else a `List` in C order.
    Object(PyValue),
}

/// One array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    /// Whether the file stored the elements in Fortran order (`data` is always C order).
    pub fortran_order: bool,
    pub data: NpyData,
}

impl NpyArray {
    /// The numeric elements in C (row-major) order, or `None` for an object array.
    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            NpyData::F64(v) => Some(v),
            NpyData::Object(_) => None,
        }
    }
}

/// Parses one `.npy` file held in memory.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let got = bytes.len();
    let truncated = |expected| NpyError::Truncated { expected, got };
    if !bytes.starts_with(MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            truncated(10)
        } else {
            NpyError::BadMagic
        });
    }
    let len_size = match bytes.get(6) {
        Some(1) => 2,
        Some(2 | 3) => 4,
        Some(v) => {
            return Err(NpyError::BadHeader(format!(
                "unsupported format version {v}"
            )))
        }
        None => return Err(truncated(10)),
    };
    let start = 8 + len_size;
    let len = bytes.get(8..start).ok_or(truncated(start))?;
    let end = start.saturating_add(len.iter().rev().fold(0, |n, &b| n << 8 | usize::from(b)));
    let (descr, fortran_order, shape) = parse_header(bytes.get(start..end).ok_or(truncated(end))?)?;
    let data = bytes.get(end..).unwrap_or_default();
    let dtype = parse_dtype(&descr, None).ok_or(NpyError::UnsupportedDtype(descr))?;
    if dtype.kind == b'O' {
        let value = Unpickler::new(data).run()?;
        return Ok(NpyArray {
            shape,
            fortran_order,
            data: NpyData::Object(value),
        });
    }
    let too_large = || NpyError::BadHeader(format!("shape {shape:?} is too large"));
    let count = element_count(&shape).ok_or_else(too_large)?;
    let nbytes = count.checked_mul(dtype.size).ok_or_else(too_large)?;
    let raw = data
        .get(..nbytes)
        .ok_or(truncated(end.saturating_add(nbytes)))?;
    let values = decode_all(dtype, raw);
    let values = if fortran_order {
        fortran_to_c(&values, &shape)
    } else {
        Some(values)
    };
    let data = NpyData::F64(values.ok_or_else(too_large)?);
    Ok(NpyArray {
        shape,
        fortran_order,
        data,
    })
}

/// Reads every `*.npy` entry of an `.npz` archive, keyed by entry name without `.npy`.
/// Other entries are ignored.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, NpyError> {
    let file =
        std::fs::File::open(path).map_err(|e| NpyError::Io(format!("{}: {e}", path.display())))?;
    read_npz_from(std::io::BufReader::new(file))
}

/// Like [`read_npz`], for an archive held in memory.
pub fn read_npz_bytes(bytes: &[u8]) -> Result<BTreeMap<String, NpyArray>, NpyError> {
    read_npz_from(std::io::Cursor::new(bytes))
}

fn read_npz_from<R: Read + Seek>(reader: R) -> Result<BTreeMap<String, NpyArray>, NpyError> {
    let zip_err = |e: zip::result::ZipError| NpyError::Zip(e.to_string());
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        let Some(key) = name.strip_suffix(".npy").filter(|_| !entry.is_dir()) else {
            continue;
        };
        let in_entry = |e| NpyError::InEntry {
            name: name.clone(),
            source: Box::new(e),
        };
        let mut buf = Vec::with_capacity(usize::try_from(entry.size().min(1 << 24)).unwrap_or(0));
        let read = (&mut entry).take(MAX_ENTRY_BYTES + 1).read_to_end(&mut buf);
        read.map_err(|e| in_entry(NpyError::Io(e.to_string())))?;
        if buf.len() as u64 > MAX_ENTRY_BYTES {
            return Err(in_entry(NpyError::Zip(format!(
                "larger than {MAX_ENTRY_BYTES} bytes"
            ))));
        }
        out.insert(key.to_owned(), parse_npy(&buf).map_err(in_entry)?);
    }
    Ok(out)
}

/// Extracts `(descr, fortran_order, shape)` from the header's Python dict literal.
fn parse_header(header: &[u8]) -> Result<(String, bool, Vec<usize>), NpyError> {
    let bad = |m: &str| NpyError::BadHeader(m.to_owned());
    let text = std::str::from_utf8(header).map_err(|_| bad("header is not UTF-8"))?;
    let text = text.trim();
    if !text.starts_with('{') || !text.ends_with('}') {
        return Err(bad("header is not a dict"));
    }
    let field = |key: &str| {
        let found = text
            .split_once(&format!("'{key}':"))
            .map(|(_, rest)| rest.trim_start());
        found.ok_or_else(|| NpyError::BadHeader(format!("missing '{key}'")))
    };
    let descr = field("descr")?;
    let Some((descr, _)) = descr.strip_prefix('\'').and_then(|d| d.split_once('\'')) else {
        return Err(NpyError::UnsupportedDtype(format!(
            "structured dtype {descr}"
        )));
    };
    let fortran = match field("fortran_order")? {
        f if f.starts_with("True") => true,
        f if f.starts_with("False") => false,
        _ => return Err(bad("'fortran_order' is not a boolean")),
    };
    let dims = field("shape")?
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'));
    let dims = dims
        .ok_or_else(|| bad("'shape' is not a tuple"))?
        .0
        .split(',')
        .map(str::trim);
    let dims = dims
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse().ok());
    let shape: Option<Vec<usize>> = dims.collect();
    Ok((
        descr.to_owned(),
        fortran,
        shape.ok_or_else(|| bad("bad 'shape'"))?,
    ))
}

/// A numpy dtype; `kind` is `b'O'` for Python objects, else `f`, `i`, `u` or `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dtype {
    kind: u8,
    size: usize,
    big_endian: bool,
}

/// Parses a dtype string such as `<f8`, `|b1`, `i4` or `|O`; `order` (a byte-order character
/// from a pickled dtype's state) overrides any prefix.
fn parse_dtype(s: &str, order: Option<u8>) -> Option<Dtype> {
    let (prefix, rest) = match s.as_bytes() {
        [c @ (b'<' | b'>' | b'|' | b'='), rest @ ..] => (*c, rest),
        rest => (b'=', rest),
    };
    let big_endian = match order.unwrap_or(prefix) {
        b'>' => true,
        b'<' => false,
        _ => cfg!(target_endian = "big"),
    };
    let (&kind, digits) = rest.split_first()?;
    let size = match std::str::from_utf8(digits).ok()? {
        "" => 0,
        d => d.parse().ok()?,
    };
    let known = matches!(
        (kind, size),
        (b'O', 0 | 4 | 8) | (b'f', 4 | 8) | (b'i' | b'u', 1 | 2 | 4 | 8) | (b'b', 1)
    );
    known.then_some(Dtype {
        kind,
        size,
        big_endian,
    })
}

/// Decodes one numeric element (`chunk.len() == t.size`) as a Python scalar.
fn decode(t: Dtype, chunk: &[u8]) -> PyValue {
    let n = t.size.min(chunk.len()).clamp(1, 8);
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(chunk.get(..n).unwrap_or(&[0]));
    if t.big_endian {
        buf[..n].reverse();
    }
    let shift = 64 - 8 * n as u32;
    match t.kind {
        b'f' if n == 4 => V::Float(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]).into()),
        b'f' => V::Float(f64::from_le_bytes(buf)),
        b'i' => V::Int((i64::from_le_bytes(buf) << shift) >> shift),
        b'u' => i64::try_from(u64::from_le_bytes(buf))
            .map_or(V::Float(u64::from_le_bytes(buf) as f64), V::Int),
        _ => V::Bool(buf[0] != 0),
    }
}

fn decode_all(t: Dtype, raw: &[u8]) -> Vec<f64> {
    raw.chunks_exact(t.size)
        .map(|c| decode(t, c).as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Reorders elements stored in Fortran order into C order (`data.len()` must match `shape`).
fn fortran_to_c<T: Clone>(data: &[T], shape: &[usize]) -> Option<Vec<T>> {
    let mut strides = Vec::with_capacity(shape.len());
    let mut acc = 1usize;
    for &d in shape {
        strides.push(acc);
        acc = acc.checked_mul(d)?;
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(data.len());
    for _ in 0..data.len() {
        let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out.push(data.get(offset)?.clone());
        for (i, &d) in index.iter_mut().zip(shape).rev() {
            *i = (*i + 1) % d.max(1);
            if *i != 0 {
                break;
            }
        }
    }
    Some(out)
}

type Id = usize;
type PResult<T> = Result<T, NpyError>;

/// An unpickled object in the arena. Containers refer to other nodes by id, so memo references
/// and in-place mutation (APPENDS, SETITEMS, BUILD) behave as in Python.
#[derive(Debug, Clone)]
enum Node {
    Leaf(PyValue),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Object {
        callable: Id,
        args: Id,
        state: Option<Id>,
    },
}

impl Node {
    /// Work units charged for copying this node.
    fn cost(&self) -> usize {
        match self {
            Node::List(v) | Node::Tuple(v) => v.len(),
            Node::Dict(v) => v.len(),
            Node::Leaf(V::Str(s)) => s.len() / 8,
            Node::Leaf(V::Bytes(b)) => b.len() / 8,
            Node::Leaf(V::Array { data, .. }) => data.len(),
            _ => 0,
        }
    }
}

#[derive(Default)]
struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    op_pos: usize,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u32, Id>,
    work: Cell<usize>,
    budget: usize,
}

impl<'a> Unpickler<'a> {
    fn new(data: &'a [u8]) -> Self {
        let budget = (1 << 22) + data.len().saturating_mul(8);
        Self {
            data,
            budget,
            ..Self::default()
        }
    }

    fn err(&self, reason: impl Into<String>) -> NpyError {
        NpyError::Pickle {
            offset: self.op_pos,
            reason: reason.into(),
        }
    }

    /// Accounts for `n` units of work (elements decoded or copied), failing past the budget.
    fn charge(&self, n: usize) -> PResult<()> {
        self.work.set(self.work.get().saturating_add(n));
        if self.work.get() > self.budget {
            return Err(self.err("pickle too large or too deeply shared"));
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        let slice = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end));
        let slice = slice.ok_or_else(|| self.err(format!("truncated: {n} more bytes needed")))?;
        self.pos += n;
        Ok(slice)
    }

    /// Reads an `n`-byte little-endian unsigned integer (`n <= 8`).
    fn uint(&mut self, n: usize) -> PResult<u64> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// Reads an `n`-byte length, then that many bytes.
    fn counted(&mut self, n: usize) -> PResult<&'a [u8]> {
        let len = usize::try_from(self.uint(n)?).map_err(|_| self.err("length too large"))?;
        self.take(len)
    }

    fn string(&mut self, n: usize) -> PResult<Node> {
        let s = std::str::from_utf8(self.counted(n)?).map_err(|_| self.err("bad UTF-8"))?;
        Ok(Node::Leaf(V::Str(s.to_owned())))
    }

    fn line(&mut self) -> PResult<String> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.iter().take(256).position(|&b| b == b'\n');
        let line = self.take(n.ok_or_else(|| self.err("unterminated GLOBAL"))? + 1)?;
        let line = std::str::from_utf8(line).map_err(|_| self.err("bad UTF-8"))?;
        Ok(line.trim_end_matches('\n').to_owned())
    }

    fn alloc(&mut self, node: Node) -> Id {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn top(&self) -> PResult<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(&id) if self.stack.len() > floor => Ok(id),
            _ => Err(self.err("stack underflow")),
        }
    }

    fn pop(&mut self) -> PResult<Id> {
        let id = self.top()?;
        self.stack.pop();
        Ok(id)
    }

    fn pop_mark(&mut self) -> PResult<Vec<Id>> {
        match self.marks.pop() {
            Some(m) if m <= self.stack.len() => Ok(self.stack.split_off(m)),
            _ => Err(self.err("missing MARK")),
        }
    }

    fn leaf(&self, id: Id) -> Option<&PyValue> {
        match self.nodes.get(id)? {
            Node::Leaf(v) => Some(v),
            _ => None,
        }
    }

    fn str_of(&self, id: Id) -> Option<&str> {
        match self.leaf(id)? {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    fn tuple(&self, id: Id) -> Option<&[Id]> {
        match self.nodes.get(id)? {
            Node::Tuple(v) => Some(v),
            _ => None,
        }
    }

    fn global(&self, id: Id) -> Option<(&str, &str)> {
        match self.leaf(id)? {
            V::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// The dtype described by a pickled `numpy.dtype(code, ...)` object and its state.
    fn dtype_of(&self, id: Id) -> Option<Dtype> {
        let Node::Object {
            callable,
            args,
            state,
        } = self.nodes.get(id)?
        else {
            return None;
        };
        if self.global(*callable)? != ("numpy", "dtype") {
            return None;
        }
        let code = self.str_of(*self.tuple(*args)?.first()?)?;
        let order = state.and_then(|s| self.str_of(*self.tuple(s)?.get(1)?)?.bytes().next());
        parse_dtype(code, order)
    }

    fn shape_of(&self, id: Id) -> Option<Vec<usize>> {
        let dims = self.tuple(id).filter(|d| d.len() <= 64)?;
        let dim = |&d: &Id| match self.leaf(d)? {
            V::Int(n) => usize::try_from(*n).ok(),
            _ => None,
        };
        dims.iter().map(dim).collect()
    }

    /// `s.encode(encoding)` for Latin-1 (how protocol 2 pickles Python 3 `bytes`).
    fn latin1(&self, s: Id, encoding: Id) -> PResult<Option<Node>> {
        let (Some(s), Some(enc)) = (self.str_of(s), self.str_of(encoding)) else {
            return Ok(None);
        };
        if !matches!(enc, "latin1" | "latin-1" | "iso-8859-1") {
            return Ok(None);
        }
        self.charge(s.len())?;
        let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c).ok()).collect();
        let bytes = bytes.ok_or_else(|| self.err("non-Latin-1 text"))?;
        Ok(Some(Node::Leaf(V::Bytes(bytes))))
    }

    /// REDUCE: evaluates the few known callables, keeps anything else as an object.
    fn reduce(&self, callable: Id, args: Id) -> PResult<Node> {
        let object = Node::Object {
            callable,
            args,
            state: None,
        };
        let (Some((module, name)), Some(a)) = (self.global(callable), self.tuple(args)) else {
            return Ok(object);
        };
        let is_bytes = BUILTINS.contains(&module) && matches!(name, "bytes" | "bytearray");
        let evaluated = match (module, name, a) {
            (m, "scalar", &[dt, raw]) if MULTIARRAY.contains(&m) => {
                match (self.dtype_of(dt).filter(|t| t.kind != b'O'), self.leaf(raw)) {
                    (Some(t), Some(V::Bytes(b))) if b.len() == t.size => {
                        Some(Node::Leaf(decode(t, b)))
                    }
                    (Some(_), _) => return Err(self.err("bad numpy scalar data")),
                    _ => None,
                }
            }
            (
                "numpy.core.numeric" | "numpy._core.numeric",
                "_frombuffer",
                &[buf, dt, shape, order],
            ) => match (self.dtype_of(dt), self.shape_of(shape)) {
                (Some(t), Some(shape)) => {
                    Some(self.make_array(shape, t, self.str_of(order) == Some("F"), buf)?)
                }
                _ => None,
            },
            ("_codecs", "encode", &[s, enc]) => self.latin1(s, enc)?,
            (_, _, &[s, enc]) if is_bytes => self.latin1(s, enc)?,
            (_, _, []) if is_bytes => Some(Node::Leaf(V::Bytes(vec![]))),
            (_, _, &[b]) if is_bytes => match self.nodes.get(b) {
                Some(node @ Node::Leaf(V::Bytes(_))) => {
                    self.charge(node.cost()).map(|()| node.clone()).map(Some)?
                }
                _ => None,
            },
            ("collections", "OrderedDict", []) => Some(Node::Dict(vec![])),
            _ => None,
        };
        Ok(evaluated.unwrap_or(object))
    }

    /// Builds an ndarray from its dtype, shape and raw data (bytes, or a list for object arrays).
    fn make_array(&self, shape: Vec<usize>, t: Dtype, fortran: bool, raw: Id) -> PResult<Node> {
        let count = element_count(&shape).ok_or_else(|| self.err("array too large"))?;
        self.charge(count)?;
        let reorder = |ids: &[Id]| {
            if fortran {
                fortran_to_c(ids, &shape)
            } else {
                Some(ids.to_vec())
            }
        };
        match (t.kind, self.nodes.get(raw)) {
            (b'O', Some(Node::List(ids))) if ids.len() == count && shape.is_empty() => {
                let elem = ids.first().and_then(|&e| self.nodes.get(e));
                let elem = elem.ok_or_else(|| self.err("dangling reference"))?;
                self.charge(elem.cost()).map(|()| elem.clone())
            }
            (b'O', Some(Node::List(ids))) if ids.len() == count => reorder(ids)
                .map(Node::List)
                .ok_or_else(|| self.err("bad object array")),
            (b'O', _) => Err(self.err("object array data is not a list of its elements")),
            (_, Some(Node::Leaf(V::Bytes(b)))) if count.checked_mul(t.size) == Some(b.len()) => {
                let values = decode_all(t, b);
                let data = if fortran {
                    fortran_to_c(&values, &shape)
                } else {
                    Some(values)
                };
                let data = data.ok_or_else(|| self.err("bad array"))?;
                Ok(Node::Leaf(V::Array { shape, data }))
            }
            _ => Err(self.err("array data does not match its dtype and shape")),
        }
    }

    /// BUILD: records the state; a `_reconstruct`ed ndarray becomes an array value.
    fn build(&mut self, obj: Id, state: Id) -> PResult<()> {
        let Some(Node::Object {
            callable,
            state: slot,
            ..
        }) = self.nodes.get_mut(obj)
        else {
            return Err(self.err("BUILD on a value that is not an object"));
        };
        *slot = Some(state);
        let callable = *callable;
        let reconstruct =
            matches!(self.global(callable), Some((m, "_reconstruct")) if MULTIARRAY.contains(&m));
        let Some(items) = self.tuple(state).filter(|_| reconstruct) else {
            return Ok(());
        };
        // (version, shape, dtype, is_fortran, data); very old pickles omit the version.
        let (&[_, shape, dt, fortran, raw] | &[shape, dt, fortran, raw]) = items else {
            return Ok(());
        };
        let Some(t) = self.dtype_of(dt) else {
            return Ok(());
        };
        let shape = self.shape_of(shape);
        let shape = shape.ok_or_else(|| self.err("bad array shape"))?;
        let fortran = matches!(self.leaf(fortran), Some(V::Bool(true) | V::Int(1)));
        let node = self.make_array(shape, t, fortran, raw)?;
        if let Some(slot) = self.nodes.get_mut(obj) {
            *slot = node;
        }
        Ok(())
    }

    /// APPEND(S) (`dict == false`) or SETITEM(S) (`dict == true`) on the node `target`.
    fn extend(&mut self, target: Id, items: Vec<Id>, dict: bool) -> PResult<()> {
        match self.nodes.get_mut(target) {
            Some(Node::List(v)) if !dict => v.extend(items),
            Some(Node::Dict(v)) if dict && items.len() % 2 == 0 => {
                v.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
            }
            _ => return Err(self.err("APPEND(S) needs a list, SETITEM(S) a dict")),
        }
        Ok(())
    }

    /// Converts the node graph rooted at `id` into a tree, bounding depth and total size.
    fn value(&self, id: Id, depth: usize) -> PResult<PyValue> {
        if depth > MAX_DEPTH {
            return Err(self.err("value nested too deeply (or recursive)"));
        }
        let node = self.nodes.get(id);
        let node = node.ok_or_else(|| self.err("dangling reference"))?;
        self.charge(1 + node.cost())?;
        let one = |i: Id| self.value(i, depth + 1);
        let many = |ids: &[Id]| ids.iter().map(|&i| one(i)).collect::<PResult<Vec<_>>>();
        Ok(match node {
            Node::Leaf(v) => v.clone(),
            Node::List(v) => V::List(many(v)?),
            Node::Tuple(v) => V::Tuple(many(v)?),
            Node::Dict(v) => V::Dict(
                v.iter()
                    .map(|&(k, x)| Ok((one(k)?, one(x)?)))
                    .collect::<PResult<_>>()?,
            ),
            Node::Object {
                callable,
                args,
                state,
            } => V::Object {
                callable: Box::new(one(*callable)?),
                args: Box::new(one(*args)?),
                state: state.map(|s| one(s).map(Box::new)).transpose()?,
            },
        })
    }

    /// Runs the pickle to its STOP opcode and returns the value on top of the stack.
    fn run(mut self) -> PResult<PyValue> {
        loop {
            self.op_pos = self.pos;
            let op = self.uint(1)? as u8;
            let node = match op {
                0x80 if self.uint(1)? <= 5 => continue, // PROTO
                0x95 => {
                    self.take(8)?; // FRAME: framing is transparent
                    continue;
                }
                b'.' => {
                    let root = self.pop()?;
                    return self.value(root, 0);
                }
                b'(' => {
                    self.marks.push(self.stack.len());
                    continue;
                }
                b')' => Node::Tuple(vec![]),
                b']' | 0x8f => Node::List(vec![]), // EMPTY_LIST, EMPTY_SET
                b'}' => Node::Dict(vec![]),
                b'N' => Node::Leaf(V::None),
                0x88 | 0x89 => Node::Leaf(V::Bool(op == 0x88)),
                b'K' => Node::Leaf(V::Int(self.uint(1)? as i64)),
                b'M' => Node::Leaf(V::Int(self.uint(2)? as i64)),
                b'J' => Node::Leaf(V::Int(i64::from(self.uint(4)? as u32 as i32))),
                0x8a | 0x8b => {
                    let bytes = self.counted(if op == 0x8a { 1 } else { 4 })?;
                    Node::Leaf(V::Int(
                        long(bytes).ok_or_else(|| self.err("integer too large"))?,
                    ))
                }
                b'G' => Node::Leaf(V::Float(f64::from_bits(self.uint(8)?.swap_bytes()))),
                b'X' => self.string(4)?,
                0x8c => self.string(1)?,
                0x8d => self.string(8)?,
                b'C' | b'U' => Node::Leaf(V::Bytes(self.counted(1)?.to_vec())),
                b'B' | b'T' => Node::Leaf(V::Bytes(self.counted(4)?.to_vec())),
                0x8e | 0x96 => Node::Leaf(V::Bytes(self.counted(8)?.to_vec())),
                b'c' => Node::Leaf(V::Global {
                    module: self.line()?,
                    name: self.line()?,
                }),
                0x93 => {
                    let (name, module) = (self.pop()?, self.pop()?);
                    let (Some(m), Some(n)) = (self.str_of(module), self.str_of(name)) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    Node::Leaf(V::Global {
                        module: m.to_owned(),
                        name: n.to_owned(),
                    })
                }
                b'q' | b'r' | 0x94 => {
                    let index = match op {
                        b'q' => self.uint(1)? as u32,
                        b'r' => self.uint(4)? as u32,
                        _ => u32::try_from(self.memo.len()).unwrap_or(u32::MAX),
                    };
                    if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&index) {
                        return Err(self.err("too many memo entries"));
                    }
                    let top = self.top()?;
                    self.memo.insert(index, top);
                    continue;
                }
                b'h' | b'j' => {
                    let index = self.uint(if op == b'h' { 1 } else { 4 })? as u32;
                    let id = self.memo.get(&index).copied();
                    self.stack
                        .push(id.ok_or_else(|| self.err(format!("undefined memo {index}")))?);
                    continue;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return Err(self.err("stack underflow"));
                    }
                    Node::Tuple(self.stack.split_off(self.stack.len() - n))
                }
                b't' => Node::Tuple(self.pop_mark()?),
                0x91 => Node::List(self.pop_mark()?), // FROZENSET
                b'R' => {
                    let (args, callable) = (self.pop()?, self.pop()?);
                    self.reduce(callable, args)?
                }
                0x81 => {
                    let (args, callable) = (self.pop()?, self.pop()?);
                    Node::Object {
                        callable,
                        args,
                        state: None,
                    }
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    self.build(obj, state)?;
                    continue;
                }
                b'a' | b's' | b'e' | b'u' | 0x90 => {
                    let items = match op {
                        b'a' => vec![self.pop()?],
                        b's' => [self.pop()?, self.pop()?].into_iter().rev().collect(),
                        _ => self.pop_mark()?,
                    };
                    let target = self.top()?;
                    self.extend(target, items, matches!(op, b's' | b'u'))?;
                    continue;
                }
                b'0' | b'1' | b'2' => {
                    match op {
                        b'0' => drop(self.pop()?),
                        b'1' => drop(self.pop_mark()?),
                        _ => self.stack.push(self.top()?),
                    }
                    continue;
                }
                0x80 => return Err(self.err("unsupported protocol")),
                b'P' | b'Q' => return Err(self.err("persistent IDs are not supported")),
                0x97 | 0x98 => return Err(self.err("out-of-band buffers are not supported")),
                _ => return Err(self.err(format!("unsupported opcode 0x{op:02x}"))),
            };
            let id = self.alloc(node);
            self.stack.push(id);
        }
    }
}

/// Decodes a little-endian two's-complement integer of any length that fits in an `i64`.
fn long(b: &[u8]) -> Option<i64> {
    let n = b.len().min(8);
    let negative = n > 0 && b[n - 1] & 0x80 != 0;
    let fill = if negative { 0xff } else { 0 };
    let mut buf = [fill; 8];
    buf[..n].copy_from_slice(&b[..n]);
    b[n..]
        .iter()
        .all(|&x| x == fill)
        .then(|| i64::from_le_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const AV22: &str = "/work/shared/data/av22_median_calib.npz";

    /// A version-1 `.npy` file with the given header fields and raw data.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        h.push_str(&" ".repeat(63 - (h.len() + 10) % 64));
        h.push('\n');
        let len = u16::try_from(h.len()).unwrap().to_le_bytes();
        [b"\x93NUMPY\x01\x00", &len[..], h.as_bytes(), data].concat()
    }

    fn values(bytes: &[u8]) -> Vec<f64> {
        parse_npy(bytes).unwrap().as_f64().unwrap().to_vec()
    }

    fn unpickle(p: &[u8]) -> Result<PyValue, NpyError> {
        Unpickler::new(p).run()
    }

    #[test]
    fn numeric_arrays() {
        let f8: Vec<u8> = (0..6).flat_map(|i| f64::from(i).to_le_bytes()).collect();
        let a = parse_npy(&npy("<f8", false, "(2, 3)", &f8)).unwrap();
        assert_eq!((a.shape.as_slice(), a.fortran_order), (&[2, 3][..], false));
        assert_eq!(a.as_f64().unwrap(), [0., 1., 2., 3., 4., 5.]);
        let f4: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(values(&npy(">f4", false, "(2,)", &f4)), [1.5, -2.0]);
        // Fortran-order [[1, 2, 3], [4, 5, -6]] is stored column by column.
        let i2: Vec<u8> = [1i16, 4, 2, 5, 3, -6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse_npy(&npy("<i2", true, "(2, 3)", &i2)).unwrap();
        assert!(a.fortran_order);
        assert_eq!(a.as_f64().unwrap(), [1., 2., 3., 4., 5., -6.]);
        assert_eq!(
            values(&npy(">i8", false, "(1,)", &(-3i64).to_be_bytes())),
            [-3.]
        );
        assert_eq!(values(&npy("|u1", false, "()", &[200])), [200.]);
        assert_eq!(values(&npy("|b1", false, "(2,)", &[0, 1])), [0., 1.]);
        assert_eq!(values(&npy("<u8", false, "(0, 5)", &[])), [0.0; 0]);
        let mut v2 = npy("<f8", false, "(1,)", &2.5f64.to_le_bytes());
        v2.splice(6..10, [2, 0, 118, 0, 0, 0]); // version 2.0: 4-byte header length
        assert_eq!(values(&v2), [2.5]);
    }

    #[test]
    fn malformed_npy() {
        assert!(matches!(
            parse_npy(b"\x93NUMPX\x01\x00"),
            Err(NpyError::BadMagic)
        ));
        assert!(matches!(
            parse_npy(b"\x93NUM"),
            Err(NpyError::Truncated { .. })
        ));
        let full = npy("<f8", false, "(2,)", &[0; 16]);
        let (n, short) = (full.len(), parse_npy(&full[..full.len() - 1]));
        assert!(
            matches!(short, Err(NpyError::Truncated { expected, got }) if (expected, got) == (n, n - 1))
        );
        assert!(matches!(
            parse_npy(&full[..40]),
            Err(NpyError::Truncated { .. })
        ));
        let c16 = npy("<c16", false, "(1,)", &[0; 16]);
        assert!(matches!(
            parse_npy(&c16),
            Err(NpyError::UnsupportedDtype(_))
        ));
        for shape in [
            "(-1,)",
            "(1 2)",
            "[1]",
            "(2**64,)",
            "(4294967296, 4294967296, 4294967296)",
        ] {
            let bad = parse_npy(&npy("<f8", false, shape, &[]));
            assert!(
                matches!(bad, Err(NpyError::BadHeader(_))),
                "{shape}: {bad:?}"
            );
        }
    }

    #[test]
    fn hand_written_pickle() {
        // Protocol 4, framed: {'a': 1, 'b': [1.5, -7, None, True, b'xy'], 'c': ('a', 'a')}.
        let p = [
            b"\x80\x04\x95\0\0\0\0\0\0\0\0}\x94(\x8c\x01a\x94K\x01\x8c\x01b]\x94(G".as_slice(),
            &1.5f64.to_be_bytes(),
            b"J\xf9\xff\xff\xffN\x88C\x02xye\x8c\x01ch\x01h\x01\x86u.",
        ]
        .concat();
        let v = unpickle(&p).unwrap();
        let (a, xy) = (V::Str("a".into()), V::Bytes(b"xy".to_vec()));
        assert_eq!(v.get("a"), Some(&V::Int(1)));
        let b = vec![V::Float(1.5), V::Int(-7), V::None, V::Bool(true), xy];
        assert_eq!(v.get("b"), Some(&V::List(b)));
        assert_eq!(v.get("c"), Some(&V::Tuple(vec![a.clone(), a])));
        assert_eq!(v.get("c").and_then(PyValue::as_f64_vec), None);
        let arr = parse_npy(&npy("|O", false, "()", &p)).unwrap();
        assert_eq!((arr.as_f64(), &arr.data), (None, &NpyData::Object(v)));
        // Unknown globals are data, never called.
        let call = unpickle(b"\x80\x02cos\nsystem\nX\x02\0\0\0ls\x85R.").unwrap();
        let V::Object {
            callable,
            args,
            state: None,
        } = call
        else {
            panic!("{call:?}")
        };
        assert_eq!(
            *callable,
            V::Global {
                module: "os".into(),
                name: "system".into()
            }
        );
        assert_eq!(*args, V::Tuple(vec![V::Str("ls".into())]));
    }

    #[test]
    fn hostile_pickles_fail_cleanly() {
        let doubling = [b"\x80\x02K\0".as_slice(), &b"2\x86".repeat(60), b"."].concat();
        let deep = [
            b"\x80\x02".as_slice(),
            &b"(".repeat(5000),
            &b")t".repeat(5000),
            b".",
        ]
        .concat();
        let cases: [(&[u8], &str); 8] = [
            (b"\x80\x02K\x01Q.", "persistent"),
            (b"\x80\x02]\x94h\0a.", "too deeply"), // a list containing itself
            (b"\x80\x02h\x05.", "undefined memo"),
            (b"\x80\x02X\xff\xff\xff\xff.", "truncated"),
            (b"\x80\x02(K\x01\x86.", "underflow"), // TUPLE2 across a MARK
            (b"\x80\x02I1\n.", "unsupported opcode"),
            (&doubling, "too large"), // 2^60 shared leaves
            (&deep, "too deeply"),
        ];
        for (case, reason) in cases {
            let got = unpickle(case);
            assert!(
                matches!(&got, Err(NpyError::Pickle { reason: r, .. }) if r.contains(reason)),
                "{got:?}"
            );
        }
    }

    #[test]
    fn npz_stored_and_deflated() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, method) in [
            ("a.npy", zip::CompressionMethod::Stored),
            ("b.npy", zip::CompressionMethod::Deflated),
        ] {
            let options = zip::write::SimpleFileOptions::default().compression_method(method);
            zip.start_file(name, options).unwrap();
            zip.write_all(&npy("<f8", false, "(1,)", &1f64.to_le_bytes()))
                .unwrap();
        }
        zip.start_file("notes.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let npz = read_npz_bytes(&bytes).unwrap();
        assert_eq!(npz.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(npz["b"].as_f64(), Some(&[1.0][..]));
        assert!(matches!(
            read_npz_bytes(&bytes[..bytes.len() / 2]),
            Err(NpyError::Zip(_))
        ));
    }

    #[test]
    fn reads_av22_calibration() {
        if !Path::new(AV22).exists() {
            return;
        }
        let npz = read_npz(Path::new(AV22)).unwrap();
        let NpyData::Object(intr) = &npz["intrinsics_front"].data else {
            panic!("not an object")
        };
        let num = |k: &str| intr.get(k).and_then(PyValue::as_f64).unwrap();
        assert_eq!((num("width"), num("height")), (3848.0, 2168.0));
        let center = intr.get("center").and_then(PyValue::as_f64_vec).unwrap();
        assert!((center[0] - 1919.998046875).abs() < 1e-9);
        let bw_poly = intr.get("bw_poly").and_then(PyValue::as_f64_vec).unwrap();
        assert_eq!(bw_poly.len(), 5);
        assert!((bw_poly[1] - 0.0005374527536332607).abs() < 1e-15);
        let pose = &npz["pose_cross_left"];
        assert_eq!(pose.shape, [4, 4]);
        assert!((pose.as_f64().unwrap()[0] - 0.38929748).abs() < 1e-8);
    }

    #[test]
    fn mutated_av22_intrinsics_never_panic() {
        let Ok(file) = std::fs::File::open(AV22) else {
            return;
        };
        let mut bytes = Vec::new();
        let mut archive = zip::ZipArchive::new(file).unwrap();
        archive
            .by_name("intrinsics_front.npy")
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert!(parse_npy(&bytes).is_ok());
        for end in 0..bytes.len() {
            assert!(
                parse_npy(&bytes[..end]).is_err(),
                "prefix of {end} bytes accepted"
            );
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            rng = rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let mut mutated = bytes.clone();
            let at = (rng >> 33) as usize % mutated.len();
            mutated[at] = (rng >> 16) as u8;
            let _ = parse_npy(&mutated);
        }
    }
}

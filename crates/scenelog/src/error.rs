//! Errors and validation issues of the scene-log crate. Every issue names the file, table, row
//! and column it is about, and the rule it breaks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

/// The rule a problem breaks (the `rule` column of `docs/scene-log-format.md`, "Validation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    UnreadableFile,
    MissingTable,
    UnsupportedVersion,
    MissingColumn,
    WrongType,
    NullValue,
    NonFinite,
    NonUnitQuaternion,
    BadValue,
    DuplicateKey,
    NonMonotonicTimestamp,
    DuplicateTimestamp,
    UnknownCamera,
    UndecodableImage,
    MissingClip,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UnreadableFile => "unreadable_file",
            Rule::MissingTable => "missing_table",
            Rule::UnsupportedVersion => "unsupported_version",
            Rule::MissingColumn => "missing_column",
            Rule::WrongType => "wrong_type",
            Rule::NullValue => "null_value",
            Rule::NonFinite => "non_finite",
            Rule::NonUnitQuaternion => "non_unit_quaternion",
            Rule::BadValue => "bad_value",
            Rule::DuplicateKey => "duplicate_key",
            Rule::NonMonotonicTimestamp => "non_monotonic_timestamp",
            Rule::DuplicateTimestamp => "duplicate_timestamp",
            Rule::UnknownCamera => "unknown_camera",
            Rule::UndecodableImage => "undecodable_image",
            Rule::MissingClip => "missing_clip",
        }
    }
}

/// Where a row lives: its file and 0-based row number within that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<Path>,
    pub row: u64,
}

/// One problem found in a scene log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub rule: Rule,
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}

impl Issue {
    pub fn file(rule: Rule, file: &Path, table: Option<&'static str>, message: impl Into<String>) -> Self {
        Self { rule, file: file.to_path_buf(), table, row: None, column: None, message: message.into() }
    }
    pub fn at(rule: Rule, loc: &Loc, table: &'static str, column: &str, message: impl Into<String>) -> Self {
        Self {
            rule,
            file: loc.file.to_path_buf(),
            table: Some(table),
            row: Some(loc.row),
            column: Some(column.to_string()),
            message: message.into(),
        }
    }
    pub fn with_column(mut self, column: &str) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(t) = self.table {
            write!(f, ": table `{t}`")?;
        }
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {} ({})", self.message, self.rule.as_str())
    }
}

/// Errors of the scene-log crate.
#[derive(Debug, Error)]
pub enum LogError {
    /// The log breaks a rule of the format.
    #[error("{0}")]
    Invalid(Box<Issue>),
    /// Validation stopped after finding this many problems.
    #[error("{count} problems found in {path} (first: {first})")]
    Problems { path: PathBuf, count: usize, first: Box<Issue> },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// An error while writing a file (nothing half-written is left behind).
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    /// An error in an input that is not a scene log (an import source, a calibration file).
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
}

impl LogError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LogError::Io { path: path.to_path_buf(), source }
    }
    pub fn input(path: &Path, message: impl Into<String>) -> Self {
        LogError::Input { path: path.to_path_buf(), message: message.into() }
    }
    pub fn write(path: &Path, message: impl fmt::Display) -> Self {
        LogError::Write { path: path.to_path_buf(), message: message.to_string() }
    }
}

/// Where problems go: either the first one is an error (reading for use), or they are collected
/// up to a limit (validation) and reading goes on.
#[derive(Debug)]
pub struct Diag {
    collect: bool,
    max: usize,
    issues: Vec<Issue>,
    total: usize,
}

impl Diag {
    /// The first problem becomes an error.
    pub fn strict() -> Self {
        Self { collect: false, max: 0, issues: Vec::new(), total: 0 }
    }
    /// Problems are collected (at most `max` kept, all counted) and reading continues.
    pub fn collect(max: usize) -> Self {
        Self { collect: true, max, issues: Vec::new(), total: 0 }
    }
    pub fn report(&mut self, issue: Issue) -> Result<(), LogError> {
        if !self.collect {
            return Err(LogError::Invalid(Box::new(issue)));
        }
        self.total += 1;
        if self.issues.len() < self.max {
            self.issues.push(issue);
        }
        Ok(())
    }
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }
    /// All problems found, including those beyond the kept limit.
    pub fn total(&self) -> usize {
        self.total
    }
    pub fn is_clean(&self) -> bool {
        self.total == 0
    }
}

//! Mapping errors: a bad mapping file (found at startup, every problem at once, each
//! naming the file, resource and field) and a record that cannot be mapped (at run time).
//! Both are permanent: the same input fails the same way until someone fixes it.

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {source}; check mapping.path in the config")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid {format}: {message}")]
    Syntax { file: String, format: &'static str, message: String },
    #[error("{} problem(s) in the mapping file:\n  {}", problems.len(), problems.join("\n  "))]
    Invalid { problems: Vec<String> },
    #[error("cannot map {resource} {external_id}: {detail}")]
    Record { resource: &'static str, external_id: String, detail: String },
}

impl MappingError {
    /// The problems of an invalid file (empty for other errors).
    pub fn problems(&self) -> &[String] {
        match self {
            MappingError::Invalid { problems } => problems,
            _ => &[],
        }
    }

    /// Every problem as one line each: an invalid file's list, or this error's message.
    pub fn lines(&self) -> Vec<String> {
        match self {
            MappingError::Invalid { problems } => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

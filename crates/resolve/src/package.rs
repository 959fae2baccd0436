//! The nodes of the dependency graph, as the solver builds it and the report explains it.

use std::fmt;
use std::sync::Arc;

/// A node of the dependency graph: the request itself, or a gem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Package {
    Root,
    Gem(Arc<str>),
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your request"),
            Self::Gem(name) => f.write_str(name),
        }
    }
}

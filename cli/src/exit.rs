//! How a run ends: an exit status and a one-line message for stderr.

/// A run that ends with a non-zero status (or a usage error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exit {
    /// The process exit status.
    pub(crate) code: u8,
    /// What to print on stderr (unless `--quiet`), without the newline.
    pub(crate) message: String,
    /// Follow the message with the pointer to `--help`.
    pub(crate) usage: bool,
}

impl Exit {
    /// Status `code` with `message`.
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            usage: false,
        }
    }

    /// Status 1 with `message` (already prefixed as it should print).
    pub(crate) fn general(message: impl Into<String>) -> Self {
        Self::new(1, message)
    }

    /// A usage error: `Error: {what}` and the pointer to `--help`, status 1.
    pub(crate) fn usage(what: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: format!("Error: {what}"),
            usage: true,
        }
    }
}

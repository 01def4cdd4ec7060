//! Why an xtask command stopped, as one type whose message tells the user what failed and,
//! where we know, what to do about it. Std only, so `Display` is written by hand.

use std::fmt;
use std::process::ExitStatus;

/// Why an xtask command stopped.
#[derive(Debug)]
pub enum Error {
    /// The command line made no sense.
    Usage(String),
    /// A program ran and failed.
    Failed {
        /// The command line, as printed before it ran.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// A program could not be started at all.
    Missing {
        /// The program.
        program: String,
        /// Why, and how to get it.
        hint: String,
    },
    /// A version could not be read from the project's files (Cargo.lock, Trunk.toml).
    Manifest(String),
    /// A tool is still wrong after installing it, or cannot be installed here.
    Tool(String),
    /// A step's own check failed (not a program's exit status).
    Check(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Failed { command, status } => {
                write!(f, "`{command}` failed ({status}); see its output above")
            }
            Error::Missing { program, hint } => write!(f, "cannot run `{program}`: {hint}"),
            Error::Manifest(msg) | Error::Tool(msg) | Error::Check(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

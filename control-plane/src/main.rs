//! `tollgate`: parses the command line and hands it to [`tollgate_control_plane::cli`].

use clap::Parser;
use tollgate_control_plane::cli::{execute, Cli};

fn main() -> std::process::ExitCode {
    execute(Cli::parse()).into()
}

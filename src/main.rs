//! The `hasim` command line: the library's [`hasim::cli::run_with`] with the shipped
//! strategies alone.

fn main() -> std::process::ExitCode {
    hasim::cli::run_with([])
}

//! `hasim bench` as a standalone program, until the `hasim` binary wires the
//! subcommand: `cargo run --release --example bench -- hot --replicas 1,4,16 --pgbench`.
//! The binary's subcommand does exactly this.

use std::process::ExitCode;

use clap::Parser;
use hasim::bench::cli::{self, BenchArgs};

#[derive(Parser)]
#[command(name = "hasim bench", about = "Measure what the webhook claim costs when replicas race for it")]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn main() -> ExitCode {
    let Cli { args } = Cli::parse();
    match cli::run(args) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

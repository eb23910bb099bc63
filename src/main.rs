//! `worldrig`: the single binary exposing every stage of the pipeline as a subcommand.
//!
//! This is the only crate that uses `anyhow` (errors are printed as a chain) and, once the model
//! crates land, the only one that picks a burn backend.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod cmd;

#[derive(Parser)]
#[command(name = "worldrig", version, about = "Multi-camera driving video synthesis and geometric consistency checking")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate or inspect a scene log.
    #[command(subcommand)]
    Log(cmd::log::LogCommand),
    /// Convert other dataset layouts into scene logs.
    #[command(subcommand)]
    Import(cmd::import::ImportCommand),
    /// Simulate multi-camera driving clips with exact ground truth (or render a log's HD map).
    Sim(cmd::sim::SimArgs),
    /// Camera rig tools: derive rig configs from a calibration file, check camera models.
    #[command(subcommand)]
    Rig(cmd::rig::RigCommand),
    /// Score a log's geometric consistency: TSE, CSE, pose-estimation success, TAE (JSON + HTML report).
    Check(cmd::check::CheckArgs),
    /// The causal video tokenizer: train, encode, decode, eval.
    #[command(subcommand)]
    Tokenizer(cmd::tokenizer::TokenizerCommand),
    /// Train the diffusion models (text2world).
    #[command(subcommand)]
    Train(cmd::train::TrainCommand),
    /// Generate a clip from a trained model.
    Generate(cmd::generate::GenerateArgs),
    /// Simulate a scene, generate it with the bundled multi-view model, check both, write an HTML report.
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    worldrig_model::alloc::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("WORLDRIG_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Log(c) => cmd::log::run(c),
        Command::Import(c) => cmd::import::run(c),
        Command::Rig(c) => cmd::rig::run(c),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Tokenizer(c) => cmd::tokenizer::run(c),
        Command::Train(c) => cmd::train::run(c),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Demo(a) => cmd::demo::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

//! `patchwarden`: the one binary. Each subcommand lives in its own module under `commands`;
//! this file parses arguments, dispatches and turns errors into documented exit codes.

mod commands;
mod config_file;
mod exit_code;
mod notify;
mod printer;
mod table;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::printer::Printer;

/// Self-hosted patch management for Linux fleets.
#[derive(Debug, Parser)]
#[command(name = "patchwarden", version = version::LONG)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare two versions (rpm or deb) and print -1, 0 or 1.
    Vercmp(commands::vercmp::VercmpArgs),
    /// Read rpm-md repository metadata.
    #[command(subcommand)]
    Repo(commands::repo::RepoCommand),
    /// Maintenance-window schedule expressions.
    #[command(subcommand)]
    Schedule(commands::schedule::ScheduleCommand),
    /// Evaluate a baseline against an inventory and repositories, offline.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Scan or patch this host (standalone agent operations).
    #[command(subcommand)]
    Agent(commands::agent::AgentCommand),
    /// Run the control plane (API, scheduler, runner), or manage its tokens.
    Server(commands::server::ServerArgs),
    /// Patch baselines on the server.
    Baseline(commands::baseline::BaselineArgs),
    /// Nodes enrolled on the server.
    Node(commands::node::NodeArgs),
    /// Compliance reported to the server.
    Compliance(commands::compliance::ComplianceArgs),
    /// Maintenance windows on the server.
    Window(commands::window::WindowArgs),
    /// Executions of maintenance windows.
    Execution(commands::execution::ExecutionArgs),
    /// Activation codes with which agents enroll.
    Activation(commands::activation::ActivationArgs),
    /// Patch-group registrations on the server.
    PatchGroup(commands::patch_group::PatchGroupArgs),
    /// Preview what a baseline would do on nodes, from their inventories.
    Preview(commands::preview::PreviewArgs),
    /// Show what applying a directory of declarative files would change.
    Plan(commands::declare::DeclareArgs),
    /// Apply a directory of declarative files to the server.
    Apply(commands::declare::DeclareArgs),
    /// Approve in PRD what STG verified; reject in PRD what failed on STG.
    Promote(commands::promote::PromoteArgs),
    /// Promotion policies: the server rejects in PRD what broke STG, approves what stayed healthy.
    Promotion(commands::promotion::PromotionArgs),
    /// Webhooks: signed JSON POSTs on executions, failures, promotions and overdue patches.
    Webhook(commands::webhook::WebhookArgs),
    /// Amazon Linux 2023 releases known to the server.
    Release(commands::release::ReleaseArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::OK
            };
            // clap prints help and errors itself; this is the one place it does.
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let printer = Printer;
    let result = match cli.command {
        Command::Vercmp(args) => commands::vercmp::run(&args, &printer),
        Command::Repo(command) => commands::repo::run(command, &printer),
        Command::Schedule(command) => commands::schedule::run(command, &printer),
        Command::Evaluate(args) => commands::evaluate::run(&args, &printer),
        Command::Agent(command) => commands::agent::run(command, &printer),
        Command::Server(args) => commands::server::run(args, &printer),
        Command::Baseline(args) => Ok(commands::baseline::run(args, &printer)),
        Command::Node(args) => Ok(commands::node::run(args, &printer)),
        Command::Compliance(args) => Ok(commands::compliance::run(args, &printer)),
        Command::Window(args) => Ok(commands::window::run(args, &printer)),
        Command::Execution(args) => Ok(commands::execution::run(args, &printer)),
        Command::Activation(args) => Ok(commands::activation::run(args, &printer)),
        Command::PatchGroup(args) => Ok(commands::patch_group::run(args, &printer)),
        Command::Preview(args) => Ok(commands::preview::run(args, &printer)),
        Command::Plan(args) => Ok(commands::declare::run_plan(&args, &printer)),
        Command::Apply(args) => Ok(commands::declare::run_apply(&args, &printer)),
        Command::Promote(args) => Ok(commands::promote::run(&args, &printer)),
        Command::Promotion(args) => Ok(commands::promotion::run(args, &printer)),
        Command::Webhook(args) => Ok(commands::webhook::run(args, &printer)),
        Command::Release(args) => Ok(commands::release::run(args, &printer)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            printer.error(&format!("{error:#}"));
            ExitCode::from(exit_code::FAILURE)
        }
    }
}

//! The settings reference, `docs/configuration.md`: written from the command line's own
//! definitions (`crm settings-reference`), so it says exactly what the binary reads; a test
//! fails when the file and the binary differ.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use clap::{Arg, Command, CommandFactory as _};

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut root = crate::cli::Cli::command();
    root.build();
    let serve = root.find_subcommand("serve").expect("crm serve");
    let services: Vec<&Command> = serve
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .collect();
    // What every service reads, stated once.
    let common: BTreeSet<&str> = services
        .iter()
        .map(|c| settings(c).map(long).collect::<BTreeSet<_>>())
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .unwrap_or_default();
    // What every service with a database reads besides (the gateway has none).
    let domains: Vec<&Command> = services
        .iter()
        .copied()
        .filter(|c| c.get_name() != "gateway")
        .collect();
    let with_database: BTreeSet<&str> = domains
        .iter()
        .map(|c| settings(c).map(long).collect::<BTreeSet<_>>())
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .unwrap_or_default()
        .difference(&common)
        .copied()
        .collect();
    let any_service: BTreeSet<&str> = services.iter().flat_map(|c| settings(c).map(long)).collect();

    let mut out = String::from(
        "# Configuration\n\n\
         <!-- Written by `crm settings-reference > docs/configuration.md` from the settings' own \
         definitions; change those, not this file. -->\n\n\
         Every setting is a flag and an environment variable; the defaults suit one machine. \
         `crm serve <service> --help` lists what one service reads.\n",
    );
    let first = services.first().copied();
    table(
        &mut out,
        "Every service",
        "Read by each `crm serve <service>`; `crm up` reads them too, but for `--listen` (it places the services itself).",
        first
            .into_iter()
            .flat_map(settings)
            .filter(|a| common.contains(long(a))),
    );
    table(
        &mut out,
        "Every service with a database",
        "Read by each `crm serve <service>` but the gateway, which keeps no data.",
        domains
            .first()
            .copied()
            .into_iter()
            .flat_map(settings)
            .filter(|a| with_database.contains(long(a))),
    );
    table(
        &mut out,
        "Traces and metrics",
        "Given before the command (`crm --otlp-endpoint http://collector:4317 serve sales`) or by their environment variables.",
        settings(&root),
    );
    for service in &services {
        table(
            &mut out,
            &format!("crm serve {}", service.get_name()),
            &about(service),
            settings(service).filter(|a| !common.contains(long(a)) && !with_database.contains(long(a))),
        );
    }
    if let Some(up) = root.find_subcommand("up") {
        table(
            &mut out,
            "crm up",
            "The whole suite in one process also reads every service's settings above; these are its own.",
            settings(up).filter(|a| !any_service.contains(long(a))),
        );
    }
    out
}

/// The visible flags of `command`.
fn settings(command: &Command) -> impl Iterator<Item = &Arg> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_long().is_some_and(|l| l != "help" && l != "version"))
}

fn long(arg: &Arg) -> &str {
    arg.get_long().unwrap_or_default()
}

fn about(command: &Command) -> String {
    command.get_about().map(|a| a.to_string()).unwrap_or_default()
}

/// A section: its title, what it covers, and a row per setting.
fn table<'a>(out: &mut String, title: &str, intro: &str, args: impl Iterator<Item = &'a Arg>) {
    let _ = write!(out, "\n## {title}\n\n");
    if !intro.is_empty() {
        let _ = write!(out, "{intro}\n\n");
    }
    out.push_str("| flag | environment | default | meaning |\n|---|---|---|---|\n");
    for arg in args {
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let default = if defaults.is_empty() {
            String::new()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "| `--{}` | {env} | {default} | {} |", long(arg), cell(&help));
    }
}

/// Text fit for one table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    /// The reference in the repository is the one this binary writes.
    #[test]
    fn docs_configuration_is_what_the_binary_reads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            written == super::markdown(),
            "docs/configuration.md differs from the settings crm reads: run \
             `cargo run -p crm -- settings-reference > docs/configuration.md`"
        );
    }

    #[test]
    fn every_service_has_its_section_and_shared_settings_come_once() {
        let doc = super::markdown();
        for service in [
            "customers",
            "sales",
            "partners",
            "marketing",
            "servicedesk",
            "gateway",
        ] {
            assert!(doc.contains(&format!("## crm serve {service}\n")), "{service}");
        }
        assert_eq!(doc.matches("| `--nats-url` |").count(), 1);
        assert!(doc.contains("| `--business-hours` |"));
    }
}

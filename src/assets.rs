//! The shipped, generated files: completion scripts (completions/) and man
//! pages (man/), both from the clap definitions, and the JSON Schemas of
//! the output (schemas/), from src/contract.rs, so they cannot drift. A
//! test regenerates them and compares with what is committed.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

use crate::completion;

/// Write completions/ and man/ under `out`.
pub fn generate(out: &Path) -> io::Result<()> {
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for (shell, file) in completion::SHELL_FILES {
        let script = completion::registration_script(shell)
            .ok_or_else(|| io::Error::other(format!("no completion support for {shell}")))?;
        std::fs::write(completions.join(file), script)?;
    }
    let schemas = out.join("schemas");
    std::fs::create_dir_all(&schemas)?;
    for published in crate::contract::PUBLISHED {
        let file = schemas.join(format!("{}.schema.json", published.name));
        std::fs::write(file, crate::contract::schema_text(published))?;
    }
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    write_page(&cmd, &man, true)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, &man, false)?;
    }
    Ok(())
}

fn write_page(cmd: &clap::Command, dir: &Path, top: bool) -> io::Result<()> {
    let page = Man::new(cmd.clone())
        .manual("ocictl manual")
        .source(format!("ocictl {}", env!("CARGO_PKG_VERSION")));
    let mut file = std::fs::File::create(dir.join(page.get_filename()))?;
    page.render(&mut file)?;
    let name = cmd.get_name();
    let mut roff = Roff::default();
    let examples = if top { TOP_EXAMPLES } else { examples(name) };
    if !examples.is_empty() {
        // Examples are (what it does, the command): the command is the term.
        let swapped: Vec<(&str, &str)> = examples.iter().map(|(what, cmd)| (*cmd, *what)).collect();
        section(&mut roff, "EXAMPLES", &swapped);
    }
    section(&mut roff, "EXIT STATUS", EXIT_CODES);
    section(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    section(&mut roff, "FILES", FILES);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(if top {
        "runc(8), criu(8), ocictl-run(1), ocictl-checkpoint(1)"
    } else {
        "ocictl(1), runc(8)"
    })]);
    file.write_all(roff.to_roff().as_bytes())
}

/// A man page section that is a list of terms and what they mean.
fn section(roff: &mut Roff, title: &str, items: &[(&str, &str)]) {
    roff.control("SH", [title]);
    for (term, meaning) in items {
        roff.control("TP", []);
        roff.text([roman(*term)]);
        roff.text([roman(*meaning)]);
    }
}

const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "Success."),
    ("1", "ocictl failed (bad bundle, unreadable file or runtime output), or the runtime failed with status 1."),
    ("2", "Usage error: unknown flag, invalid container ID, unknown signal, bad duration or size."),
    ("N", "The runtime failed with its own exit status N."),
    ("N, 128+N", "Foreground run, exec and restore: the container process's exit code, or 128+N when signal N killed it."),
    ("75", "Another checkpoint of this container is running."),
    ("124", "The runtime did not answer within --timeout."),
    ("126", "The runtime binary is not executable."),
    ("127", "The runtime binary was not found."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "OCICTL_RUNTIME",
        "The runtime binary (--runtime), default runc.",
    ),
    ("OCICTL_ROOT", "The runtime's state root (--root)."),
    ("OCICTL_FORMAT", "Output format, table or json (--format)."),
    ("RUST_LOG", "Tracing filter, e.g. ocictl=debug."),
    ("NOTIFY_SOCKET", "Never passed on to the runtime."),
    (
        "OCICTL_COMPLETE",
        "Set by the completion scripts to ask ocictl for completions.",
    ),
];

const FILES: &[(&str, &str)] = &[
    ("/run/runc", "runc's default state root (see --root)."),
    ("BUNDLE/config.json", "The OCI runtime spec of a container."),
];

const TOP_EXAMPLES: &[(&str, &str)] = &[
    (
        "Make a busybox bundle and run a shell in it.",
        "ocictl bundle /tmp/demo && ocictl run -t -b /tmp/demo demo",
    ),
    ("List containers as JSON.", "ocictl list --format json"),
    (
        "Stop a container and remove it.",
        "ocictl kill demo KILL && ocictl delete demo",
    ),
];

fn examples(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "create" => &[(
            "Create a container, then start it.",
            "ocictl create -b /tmp/demo web && ocictl start web",
        )],
        "run" => &[
            (
                "Run a container in the foreground; ocictl exits with its status.",
                "ocictl run -b /tmp/demo job",
            ),
            (
                "Run it in the background.",
                "ocictl run -d -b /tmp/demo web",
            ),
        ],
        "kill" => &[(
            "Send SIGKILL to every process of a container.",
            "ocictl kill --all web KILL",
        )],
        "list" => &[("Only the IDs.", "ocictl list -q")],
        "ps" => &[("Choose ps columns.", "ocictl ps web -o pid,comm")],
        "state" => &[(
            "The status field alone.",
            "ocictl state web --format json | jq -r .status",
        )],
        "delete" => &[(
            "Delete a container even if it still runs.",
            "ocictl delete --force web",
        )],
        "bundle" => &[(
            "A bundle whose container prints and exits.",
            "ocictl bundle /tmp/hello -- echo hello",
        )],
        "completion" => &[(
            "Enable bash completion for this shell.",
            "source <(ocictl completion bash)",
        )],
        _ => &[],
    }
}

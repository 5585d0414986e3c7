//! The shipped, generated files: completion scripts (completions/) and man
//! pages (man/), both from the clap definitions, and the JSON Schemas of
//! the output (schemas/), from src/contract.rs, so they cannot drift. A
//! test regenerates them and compares with what is committed.

use std::io::{self, Write};
use std::path::Path;

use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

use crate::{completion, help};

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
    let mut cmd = crate::cli::full_command();
    cmd.build();
    // `ocictl help COMMAND` prints a command's help: no page of its own.
    cmd = cmd.mut_subcommand("help", |h| h.hide(true));
    write_page(&cmd, &man, true)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, &man, false)?;
        // `generate systemd` has a page of its own too.
        for nested in sub
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            write_page(nested, &man, false)?;
        }
    }
    Ok(())
}

fn write_page(cmd: &clap::Command, dir: &Path, top: bool) -> io::Result<()> {
    // Only standard sections (man-pages(7)): the page has its own EXAMPLES,
    // no VERSION or EXTRA; the commands are a subsection of DESCRIPTION and
    // the options one list, the command's own first.
    let page_cmd = cmd.clone().mut_args(|a| a.help_heading(None::<&str>));
    let page = Man::new(page_cmd.clone())
        .manual("ocictl manual")
        .source(format!("ocictl {}", env!("CARGO_PKG_VERSION")));
    let mut file = Vec::new();
    page.render_title(&mut file)?;
    page.render_name_section(&mut file)?;
    page.render_synopsis_section(&mut file)?;
    page.render_description_section(&mut file)?;
    if page_cmd.get_subcommands().next().is_some() {
        let mut commands = Vec::new();
        page.render_subcommands_section(&mut commands)?;
        let commands =
            String::from_utf8_lossy(&commands).replacen(".SH SUBCOMMANDS", ".SS Commands", 1);
        file.write_all(commands.as_bytes())?;
    }
    if page_cmd.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(&mut file)?;
    }
    let name = if top { "ocictl" } else { cmd.get_name() };
    let mut roff = Roff::default();
    section(&mut roff, "EXIT STATUS", &help::exit_status(name));
    section(&mut roff, "ENVIRONMENT", help::ENVIRONMENT);
    section(&mut roff, "FILES", &help::files(name));
    let examples = if top {
        help::TOP_EXAMPLES
    } else {
        help::examples(name)
    };
    // Examples are (what it does, the command): the command is the term.
    let swapped: Vec<(&str, &str)> = examples.iter().map(|(what, cmd)| (*cmd, *what)).collect();
    section(&mut roff, "EXAMPLES", &swapped);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(help::see_also(name))]);
    file.write_all(roff.to_roff().as_bytes())?;
    // Each piece starts with roff's apostrophe preamble: keep the first.
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let text = String::from_utf8_lossy(&file);
    let body = text.replace(PREAMBLE, "");
    std::fs::write(dir.join(page.get_filename()), format!("{PREAMBLE}{body}"))
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

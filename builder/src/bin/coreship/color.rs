//! `--color`: cargo's choice of styled status lines on stderr.

use std::io::IsTerminal as _;

/// When to style status lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// The flag's value, else `CARGO_TERM_COLOR` (what `cargo --color` exports to
    /// subcommands' environment when set in cargo's config), else auto.
    pub fn resolve(flag: Option<ColorChoice>) -> ColorChoice {
        flag.or_else(|| {
            std::env::var("CARGO_TERM_COLOR")
                .ok()
                .and_then(|v| <ColorChoice as clap::ValueEnum>::from_str(&v, true).ok())
        })
        .unwrap_or(ColorChoice::Auto)
    }

    /// Whether to style stderr.
    pub fn on_stderr(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Styles words like cargo does (bold green statuses, bold red `error`), or not at all.
#[derive(Clone, Copy, Debug)]
pub struct Paint(pub bool);

impl Paint {
    /// `word` right-aligned in 12 columns, bold green.
    pub fn status(self, word: &str) -> String {
        self.style("1;32", &format!("{word:>12}"))
    }

    /// `error`, bold red.
    pub fn error(self) -> String {
        self.style("1;31", "error")
    }

    fn style(self, sgr: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

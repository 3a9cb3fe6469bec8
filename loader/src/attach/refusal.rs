//! Why a program could not attach, split into the cause and the advice.

/// Why a program could not load or attach: the cause, and what a user can do about it when
/// the program stands alone. A group of alternatives reports only the causes: trying the
/// next alternative is the remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// What the kernel (or libbpf) objected to, e.g. `CONFIG_KPROBES is off in this kernel`.
    pub cause: String,
    /// What to do instead, for a program without alternatives.
    pub advice: Option<&'static str>,
}

impl Refusal {
    /// A refusal with advice.
    pub(crate) fn advised(cause: impl Into<String>, advice: &'static str) -> Refusal {
        Refusal {
            cause: cause.into(),
            advice: Some(advice),
        }
    }

    /// The cause followed by the advice, for a program without alternatives.
    pub(crate) fn full(&self) -> String {
        match self.advice {
            Some(advice) => format!("{}: {advice}", self.cause),
            None => self.cause.clone(),
        }
    }
}

impl From<String> for Refusal {
    fn from(cause: String) -> Refusal {
        Refusal {
            cause,
            advice: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_follows_the_cause_only_in_the_full_text() {
        let r = Refusal::advised("CONFIG_KPROBES is off in this kernel", "use a tracepoint");
        assert_eq!(r.cause, "CONFIG_KPROBES is off in this kernel");
        assert_eq!(
            r.full(),
            "CONFIG_KPROBES is off in this kernel: use a tracepoint"
        );
        assert_eq!(Refusal::from("no".to_string()).full(), "no");
    }
}

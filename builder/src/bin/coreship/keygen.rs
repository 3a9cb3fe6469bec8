//! `coreship keygen`: make a minisign-compatible signing key pair.

use super::select_args::read_password;
use std::path::PathBuf;

/// Arguments of `coreship keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// Secret key file to write; the public key goes beside it as NAME.pub
    #[arg(short, long, value_name = "FILE", default_value = "coreship.key")]
    output: PathBuf,
    /// Encrypt the secret key with the password in FILE [default: $CORESHIP_KEY_PASSWORD;
    /// unencrypted, as `minisign -G -W`, when neither is set]
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// Runs `coreship keygen`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let password = read_password(args.password_file.as_deref())?;
    let (public, key_id) = coreship_registry::keygen(&args.output, password.as_deref())?;
    println!("{}", public.display());
    eprintln!(
        "coreship: key {key_id}: secret key {} ({}), public key {}; give the public key to \
         `coreship-load --trust`",
        args.output.display(),
        if password.is_some() {
            "encrypted"
        } else {
            "unencrypted, keep it private"
        },
        public.display()
    );
    Ok(())
}

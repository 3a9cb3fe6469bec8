//! `coreship sign`: sign an artifact already in a registry, with a key or with a signature
//! made elsewhere (e.g. `minisign -Sm` on an offline machine over the digest `coreship
//! sign --print-digest` shows).

use super::select_args::{read_password, Connect};
use coreship_registry::{Reference, SecretKey};
use std::path::PathBuf;

/// Arguments of `coreship sign`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("how").required(true).args(["key", "signature", "print_digest"]))]
pub struct Args {
    /// The artifact: HOST:PORT/REPO:TAG or HOST:PORT/REPO@sha256:DIGEST (port optional)
    #[arg(value_name = "REF")]
    reference: Reference,
    /// Sign with this minisign secret key
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Attach this minisign signature (.minisig) of the artifact's digest
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Only print the text to sign (the index digest), e.g. for `minisign -Sm`
    #[arg(long)]
    print_digest: bool,
    /// File holding the secret key's password [default: $CORESHIP_KEY_PASSWORD]
    #[arg(long, value_name = "FILE", requires = "key")]
    password_file: Option<PathBuf>,
    #[command(flatten)]
    connect: Connect,
}

/// Runs `coreship sign`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let client = args.connect.client();
    if args.print_digest {
        let root = client.get_manifest(&args.reference)?.descriptor;
        print!("{}", root.digest);
        return Ok(());
    }
    let minisig = match (&args.key, &args.signature) {
        (Some(key), _) => {
            let password = read_password(args.password_file.as_deref())?;
            let key = SecretKey::from_file(key, password.as_deref())?;
            let root = client.get_manifest(&args.reference)?.descriptor;
            key.sign(&root.digest, &args.reference.name())?.into_bytes()
        }
        (None, Some(file)) => std::fs::read(file)
            .map_err(|e| anyhow::anyhow!("cannot read signature {}: {e}", file.display()))?,
        (None, None) => unreachable!("clap requires one of --key, --signature, --print-digest"),
    };
    let root = coreship_builder::attach_signature(&client, &args.reference, &minisig)?;
    println!("{}@{}", args.reference.name(), root.digest);
    eprintln!(
        "coreship: signature attached to {}@{}",
        args.reference.name(),
        root.digest
    );
    Ok(())
}

//! `coreship sign`: sign an artifact already in a registry, with a key or with a signature
//! made elsewhere (e.g. `minisign -Sm` on an offline machine over the digest `coreship sign
//! --print-digest` shows, with the trusted comment `--print-comment` shows).

use super::select_args::{read_password, Connect};
use anyhow::Context as _;
use coreship_registry::{Reference, SecretKey, SignedName};
use std::path::PathBuf;

/// Arguments of `coreship sign`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("how").required(true).args(["key", "signature", "print_digest", "print_comment"]))]
pub struct Args {
    /// The artifact: HOST:PORT/REPO:TAG or HOST:PORT/REPO@sha256:DIGEST (port optional); the
    /// signature is for REPO and, when given by tag, for TAG
    #[arg(value_name = "REF")]
    reference: Reference,
    /// Sign with this minisign secret key
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Attach this minisign signature (.minisig) of the artifact's digest; its trusted comment
    /// must be the one --print-comment shows
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Only print the text to sign (the index digest), e.g. for `minisign -Sm`
    #[arg(long)]
    print_digest: bool,
    /// Only print the trusted comment a signature made elsewhere must carry, for `minisign -t`
    #[arg(long)]
    print_comment: bool,
    /// File holding the secret key's password [default: $CORESHIP_KEY_PASSWORD]
    #[arg(long, value_name = "FILE", requires = "key")]
    password_file: Option<PathBuf>,
    #[command(flatten)]
    connect: Connect,
}

/// Runs `coreship sign`.
pub fn exec(args: Args) -> anyhow::Result<()> {
    let client = args.connect.client();
    let signed_as = SignedName::from(&args.reference);
    if args.print_digest || args.print_comment {
        let root = client.get_manifest(&args.reference)?.descriptor;
        match args.print_comment {
            true => println!(
                "{}",
                coreship_registry::trusted_comment(&root.digest, &signed_as)?
            ),
            false => print!("{}", root.digest),
        }
        return Ok(());
    }
    let minisig = match (&args.key, &args.signature) {
        (Some(key), _) => {
            let password = read_password(args.password_file.as_deref())?;
            let key = SecretKey::from_file(key, password.as_deref())?;
            let root = client.get_manifest(&args.reference)?.descriptor;
            key.sign(&root.digest, &signed_as)?.into_bytes()
        }
        (None, Some(file)) => {
            let minisig = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("cannot read signature {}: {e}", file.display()))?;
            // Devices refuse a signature that does not name what it is for: say so now, not
            // on every device later.
            let root = client.get_manifest(&args.reference)?.descriptor;
            coreship_registry::check_signed_for(&root.digest, &signed_as, &minisig)
                .with_context(|| format!("{} cannot be attached", file.display()))?;
            minisig
        }
        (None, None) => unreachable!("clap requires one of --key, --signature, --print-*"),
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

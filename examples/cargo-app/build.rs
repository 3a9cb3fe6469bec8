//! Compiles the probe declared in Cargo.toml (`src/bpf/execcount.bpf.c`) into
//! `OUT_DIR/execcount.bpf.o` for this target's arch; cargo reruns this when the probe or its
//! headers change.

fn main() -> Result<(), coreship_builder::BuildScriptError> {
    coreship_builder::Builder::from_env()?
        .probe("execcount")
        .build()?;
    Ok(())
}

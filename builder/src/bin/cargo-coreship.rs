//! `cargo-coreship`: the `coreship` binary under the name cargo runs for `cargo coreship …`
//! (cargo passes `coreship` as the first argument; `main` drops it).

#[path = "coreship/main.rs"]
mod coreship;

fn main() -> std::process::ExitCode {
    coreship::main()
}

//! `beefine-record`: see `beefine-record --help`.

fn main() -> std::process::ExitCode {
    beefine_recorder::main()
}

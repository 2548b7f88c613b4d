//! `allot bench`: measures the engine on generated data.

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Number of clients.
    #[arg(long, default_value_t = 1_000_000)]
    clients: usize,
}

pub fn run(_a: &BenchArgs) -> Result<(), String> {
    Err("not yet".into())
}

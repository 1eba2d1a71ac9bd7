use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = berth::cli::Cli::parse();
    let code = match berth::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            berth::cli::exit_status(&e)
        }
    };
    std::process::exit(code);
}

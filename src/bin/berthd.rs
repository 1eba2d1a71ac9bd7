use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = berth::dbus::daemon::Options::parse();
    berth::dbus::daemon::init_logging();
    berth::dbus::daemon::run(opts).await?;
    Ok(())
}

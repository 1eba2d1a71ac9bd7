fn main() {
    std::process::exit(berth::runtime::monitor::main(std::env::args().skip(1).collect()));
}

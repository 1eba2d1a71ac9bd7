fn main() {
    std::process::exit(berth::quadlet::generator::main(std::env::args().skip(1).collect()));
}

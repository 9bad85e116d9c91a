//! The store bridge: prints receipts on LAN printers and forwards cashier scans. Built by the store-bridge issue.

fn main() -> std::process::ExitCode {
    eprintln!("printer-bridge is not built yet: it arrives with the store-bridge issue");
    std::process::ExitCode::from(2)
}

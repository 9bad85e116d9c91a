//! The messages the store bridge and the api exchange over the bridge's WebSocket (JSON text frames, tagged by
//! `type`). The only code the two share.
//!
//! The bridge connects out to `GET /bridge/v1/connect` with `Authorization: Bearer hyd_…`. Then:
//! - the api sends [`ToBridge::Printers`] (the store's printers) and every job not yet printed, oldest first, as
//!   [`ToBridge::Job`]; new jobs follow as they are queued, and jobs not acknowledged are sent again;
//! - the bridge answers each job with [`FromBridge::Received`] once it is spooled to disk, then
//!   [`FromBridge::Printed`] once the printer took every byte, or [`FromBridge::Held`] while the printer reports
//!   no paper or an open cover. A job it has already printed is acknowledged as printed again, never reprinted;
//! - the bridge sends [`FromBridge::Heartbeat`] with its printers' states, and [`FromBridge::Scan`] for each code
//!   the counter's scanner reads.

use serde::{Deserialize, Serialize};

/// Protocol version, sent in the bridge's hello.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printer {
    pub id: i64,
    pub name: String,
    /// `host:port` on the store's LAN.
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToBridge {
    /// The store's printers (sent on connect and when they change).
    Printers { printers: Vec<Printer> },
    /// A job to print: ESC/POS bytes, base64, for one printer.
    Job { id: i64, printer_id: i64, kind: String, data: String },
    /// A job staff cancelled or that was printed elsewhere: drop it from the spool if still there.
    Forget { id: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    Ok,
    PaperOut,
    CoverOpen,
    /// Not answering on its address.
    Offline,
    Unknown,
}

impl PrinterState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrinterState::Ok => "ok",
            PrinterState::PaperOut => "paper_out",
            PrinterState::CoverOpen => "cover_open",
            PrinterState::Offline => "offline",
            PrinterState::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterStatus {
    pub id: i64,
    pub state: PrinterState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromBridge {
    Hello { version: u32, bridge: String },
    Received { id: i64 },
    Printed { id: i64 },
    Held { id: i64, state: PrinterState },
    Heartbeat { printers: Vec<PrinterStatus> },
    Scan { code: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let job = ToBridge::Job { id: 7, printer_id: 2, kind: "bill_receipt".into(), data: "G0A=".into() };
        let text = serde_json::to_string(&job).unwrap();
        assert_eq!(text, r#"{"type":"job","id":7,"printer_id":2,"kind":"bill_receipt","data":"G0A="}"#);
        let held: FromBridge = serde_json::from_str(r#"{"type":"held","id":7,"state":"paper_out"}"#).unwrap();
        assert_eq!(held, FromBridge::Held { id: 7, state: PrinterState::PaperOut });
    }
}

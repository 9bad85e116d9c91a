//! What happens at the store's counter beside the bill: retail products and stock, receipts and the print queue,
//! ESC/POS, the store bridge (printers and scanners), and shift handover (交班).

pub mod bridge;
pub mod escpos;
pub mod handover;
pub mod print_queue;
pub mod products;
pub mod receipts;

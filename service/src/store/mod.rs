//! What happens at the store's counter beside the bill: retail products and stock, receipts and the print queue,
//! ESC/POS, the store bridge (printers and scanners), shift handover (交班) and the day at a glance.

pub mod bridge;
pub mod escpos;
pub mod handover;
pub mod print_queue;
pub mod products;
pub mod receipts;
pub mod today;

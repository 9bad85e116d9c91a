//! Messages to members and staff, through an outbox: booking reminders by WeChat subscribe message or SMS.

pub mod outbox;

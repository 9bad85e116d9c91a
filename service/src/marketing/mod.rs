//! Marketing: who to reach (segments), and later what to send them and how it did.

pub mod campaigns;
pub mod inbox;
pub mod segments;

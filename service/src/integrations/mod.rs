//! The outside world, spoken to in its own protocols: the WeChat mini-program server API and its subscribe-message
//! field rules, WeChat Pay (v3, and v2 for payment codes), Alipay, the RSA signature those share, and SMS. Nothing
//! here knows members, bills or the database; features call these clients.

pub mod alipay;
pub mod signing;
pub mod sms;
pub mod subscribe_fields;
pub mod wechat;
pub mod wechatpay;
pub mod wechatpay_v2;

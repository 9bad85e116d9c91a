//! The dynamic member code (会员码) a member shows at the desk, verified statelessly by whoever scans it (it is
//! issued to the signed-in member by `auth::issue_member_code`).

use crate::domain::{MemberCode, MemberCodeClaims, MemberCodeError};
use crate::{AppContext, Error, Result};

/// Who a member code names, if it is genuine and unexpired.
pub fn verify_member_code(ctx: &AppContext, input: &str) -> Result<MemberCodeClaims> {
    MemberCode::verify(ctx.vault.member_code_key(), input, ctx.now().timestamp()).map_err(|e| match e {
        MemberCodeError::Invalid => Error::MemberCodeInvalid,
        MemberCodeError::Expired => Error::MemberCodeExpired,
    })
}

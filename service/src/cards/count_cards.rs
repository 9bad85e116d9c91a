//! Count cards (次卡/疗程卡): N sessions of one or several services, bought up front.
//!
//! Each card has two ledger accounts: `card:<id>:sessions` (sessions left) and `card:<id>:deferred` (the part of
//! its price not yet earned). A sale credits both; each session used moves `deferred ÷ sessions left` (rounded
//! down, the last session takes the rest) to the revenue of the service's category, so revenue is recognised per
//! session at use and the card's price is recognised exactly, to the fen, by its last session. Refunding the unused
//! sessions pays out exactly what is still deferred: the card's unit price for each unused session, with the
//! rounding of earlier sessions settled. Extension, transfer and refund are audited.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::json;

use entity::count_cards;

use crate::cards::card_products::CardProduct;
use crate::cards::stored_value::DeskTender;
use crate::domain::{Fen, IdempotencyKey, Permission, fingerprint};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::posting::Posting;
use crate::ledger::{self, Account, AccountKind, Cause, Draft};
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Debug)]
pub struct CountCard {
    pub id: i64,
    pub member_id: i64,
    pub name: String,
    pub service_item_ids: Vec<i64>,
    pub sessions_total: i32,
    pub sessions_left: i64,
    pub price_fen: Fen,
    /// Value not yet recognised: what refunding the unused sessions would pay.
    pub deferred_fen: Fen,
    /// `active`, `refunded`, `transferred` or `expired` (its value recognised as breakage).
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn sessions(card: &count_cards::Model) -> Account {
    Account::card(card.id, card.member_id, AccountKind::CardSessions)
}

fn deferred(card: &count_cards::Model) -> Account {
    Account::card(card.id, card.member_id, AccountKind::CardDeferred)
}

fn item_ids(row: &count_cards::Model) -> Result<Vec<i64>> {
    crate::domain::stored_json("count card services", &row.service_item_ids)
}

async fn balances(conn: &impl ConnectionTrait, merchant_id: i64, card: &count_cards::Model) -> Result<(i64, i64)> {
    let found = ledger::balances(conn, merchant_id, &[sessions(card), deferred(card)]).await?;
    Ok((found[0], found[1]))
}

async fn to_card(conn: &impl ConnectionTrait, merchant_id: i64, row: count_cards::Model) -> Result<CountCard> {
    let (left, value) = balances(conn, merchant_id, &row).await?;
    Ok(CountCard {
        id: row.id,
        member_id: row.member_id,
        name: row.name.clone(),
        service_item_ids: item_ids(&row)?,
        sessions_total: row.sessions_total,
        sessions_left: left,
        price_fen: Fen::new(row.price_fen),
        deferred_fen: Fen::new(value),
        status: row.status,
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
}

/// The sessions left on each of `card_ids` as `conn` sees them now, by card name (for a slip).
pub(crate) async fn sessions_left(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    card_ids: &[i64],
) -> Result<Vec<(String, i64)>> {
    let rows = count_cards::Entity::find()
        .filter(count_cards::Column::MerchantId.eq(merchant_id))
        .filter(count_cards::Column::Id.is_in(card_ids.iter().copied()))
        .order_by_asc(count_cards::Column::Id)
        .all(conn)
        .await?;
    let mut left = Vec::with_capacity(rows.len());
    for row in rows {
        let (sessions, _) = balances(conn, merchant_id, &row).await?;
        left.push((row.name, sessions));
    }
    Ok(left)
}

async fn row(conn: &impl ConnectionTrait, merchant_id: i64, card_id: i64) -> Result<count_cards::Model> {
    count_cards::Entity::find_by_id(card_id)
        .filter(count_cards::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("count card"))
}

/// Takes the card's row lock for the rest of the transaction and returns the row as it is now.
async fn lock(conn: &impl ConnectionTrait, merchant_id: i64, card_id: i64) -> Result<count_cards::Model> {
    count_cards::Entity::update_many()
        .col_expr(count_cards::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(count_cards::Column::Id.eq(card_id))
        .filter(count_cards::Column::MerchantId.eq(merchant_id))
        .exec(conn)
        .await?;
    row(conn, merchant_id, card_id).await
}

fn require_usable(card: &count_cards::Model, now: DateTime<Utc>) -> Result<()> {
    if card.status != "active" || card.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::Conflict(Conflict::CountCardUnusable));
    }
    Ok(())
}

/// Inside a settlement: creates the member's card from `product` and adds the lines crediting its sessions and
/// deferred value to the posting. The caller's tenders pay the price.
pub(crate) async fn issue_into(posting: &mut Posting<'_, impl ConnectionTrait>, product: &CardProduct) -> Result<i64> {
    let (member_id, store_id, now) = (posting.member_id()?, posting.store_id(), posting.now);
    let card_id = count_cards::Entity::insert(count_cards::ActiveModel {
        merchant_id: Set(posting.merchant_id()),
        member_id: Set(member_id),
        card_product_id: Set(product.id),
        name: Set(product.name.clone()),
        service_item_ids: Set(serde_json::to_string(&product.service_item_ids).map_err(anyhow::Error::from)?),
        sessions_total: Set(product.sessions),
        price_fen: Set(product.price_fen.get()),
        status: Set("active".to_owned()),
        store_id: Set(store_id),
        bill_id: Set(posting.bill_id()),
        expires_at: Set(product.validity_days.map(|days| now + Duration::days(i64::from(days)))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(posting.conn)
    .await?
    .last_insert_id;
    let draft = &mut posting.draft;
    draft.credit(Account::card(card_id, member_id, AccountKind::CardDeferred), product.price_fen);
    draft
        .debit(Account::store(store_id, AccountKind::SessionsIssued), i64::from(product.sessions))
        .credit(Account::card(card_id, member_id, AccountKind::CardSessions), i64::from(product.sessions));
    Ok(card_id)
}

/// What one use of a card is worth: `quantity` sessions' share of the deferred value.
fn recognise(deferred_fen: i64, sessions_left: i64, quantity: i64) -> i64 {
    if quantity >= sessions_left { deferred_fen } else { crate::money::share_of(deferred_fen, quantity, sessions_left) }
}

/// What a bill line takes from a count card: `quantity` sessions of one service, recognised as revenue of its
/// category.
pub(crate) struct Use<'a> {
    pub card_id: i64,
    pub service_item_id: i64,
    pub quantity: i64,
    pub category: &'a str,
}

/// Inside a settlement: checks the card belongs to the posting's member, is usable and covers the service, locks
/// it, and adds the lines taking the sessions and recognising their value as revenue. Returns the value recognised.
pub(crate) async fn use_into(posting: &mut Posting<'_, impl ConnectionTrait>, taken: Use<'_>) -> Result<Fen> {
    let Use { card_id, service_item_id, quantity, category } = taken;
    let (conn, merchant_id, store_id, member_id) =
        (posting.conn, posting.merchant_id(), posting.store_id(), posting.member_id()?);
    let card = lock(conn, merchant_id, card_id).await.map_err(|e| match e {
        Error::NotFound(_) => Error::invalid("lines", format!("no count card {card_id}")),
        other => other,
    })?;
    if card.member_id != member_id {
        return Err(Error::invalid("lines", format!("count card {card_id} belongs to another member")));
    }
    require_usable(&card, posting.now)?;
    if !item_ids(&card)?.contains(&service_item_id) {
        return Err(Error::invalid("lines", format!("count card {card_id} does not cover service {service_item_id}")));
    }
    let (left, value) = balances(conn, merchant_id, &card).await?;
    if left < quantity {
        return Err(Error::Conflict(if left == 0 {
            Conflict::CountCardUnusable
        } else {
            Conflict::InsufficientBalance
        }));
    }
    let recognised = recognise(value, left, quantity);
    let draft = &mut posting.draft;
    draft.debit(sessions(&card), quantity).credit(Account::store(store_id, AccountKind::SessionsIssued), quantity);
    draft.debit(deferred(&card), recognised).credit(Account::revenue(store_id, category), recognised);
    Ok(Fen::new(recognised))
}

/// Inside a refund of a bill line: gives back the sessions taken and moves `value` from revenue back to the card's
/// deferred value.
pub(crate) async fn return_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    taken: Use<'_>,
    value: Fen,
) -> Result<()> {
    let Use { card_id, quantity, category, .. } = taken;
    let store_id = posting.store_id();
    let card = lock(posting.conn, posting.merchant_id(), card_id).await?;
    if card.status != "active" {
        return Err(Error::Conflict(Conflict::CountCardUnusable));
    }
    let draft = &mut posting.draft;
    draft.debit(Account::store(store_id, AccountKind::SessionsIssued), quantity).credit(sessions(&card), quantity);
    draft.debit(Account::revenue(store_id, category), value).credit(deferred(&card), value);
    Ok(())
}

/// Inside a refund of the bill line that sold the card: only a card never used can be taken back with its bill.
pub(crate) async fn unsell_into(posting: &mut Posting<'_, impl ConnectionTrait>, card_id: i64) -> Result<Fen> {
    let (conn, merchant_id, store_id, now) = (posting.conn, posting.merchant_id(), posting.store_id(), posting.now);
    let card = lock(conn, merchant_id, card_id).await?;
    let (left, value) = balances(conn, merchant_id, &card).await?;
    if card.status != "active" || left != i64::from(card.sessions_total) || value != card.price_fen {
        return Err(Error::invalid(
            "lines",
            format!("count card {card_id} has been used or moved: refund its unused sessions from the card instead"),
        ));
    }
    let draft = &mut posting.draft;
    draft.debit(sessions(&card), left).credit(Account::store(store_id, AccountKind::SessionsIssued), left);
    draft.debit(deferred(&card), value);
    count_cards::Entity::update_many()
        .col_expr(count_cards::Column::Status, Expr::value("refunded"))
        .col_expr(count_cards::Column::UpdatedAt, Expr::value(now))
        .filter(count_cards::Column::Id.eq(card_id))
        .exec(conn)
        .await?;
    Ok(Fen::new(value))
}

/// A member's cards, newest first.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Vec<CountCard>> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    list_of(ctx, principal.merchant_id, member_id).await
}

/// The member's own cards, for the mini-program.
pub async fn own(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<CountCard>> {
    list_of(ctx, merchant_id, member_id).await
}

async fn list_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<CountCard>> {
    let rows = count_cards::Entity::find()
        .filter(count_cards::Column::MerchantId.eq(merchant_id))
        .filter(count_cards::Column::MemberId.eq(member_id))
        .order_by_desc(count_cards::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut cards = Vec::with_capacity(rows.len());
    for row in rows {
        cards.push(to_card(&ctx.db, merchant_id, row).await?);
    }
    Ok(cards)
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, card_id: i64) -> Result<CountCard> {
    principal.require(Permission::MemberRead)?;
    let row = row(&ctx.db, principal.merchant_id, card_id).await?;
    to_card(&ctx.db, principal.merchant_id, row).await
}

async fn record(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    action: &str,
    card_id: i64,
    detail: serde_json::Value,
) -> Result<()> {
    audit::record(
        conn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action,
            target: Some(("count_card", card_id)),
            detail,
            ip: None,
        },
    )
    .await
}

/// Moves the card's expiry to `expires_at` (later than now). Audited.
pub async fn extend(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    card_id: i64,
    expires_at: DateTime<Utc>,
    why: &str,
) -> Result<CountCard> {
    principal.require(Permission::Refund)?;
    let why = audit::reason(why)?;
    let now = ctx.now();
    if expires_at <= now || expires_at > now + Duration::days(3650) {
        return Err(Error::invalid("expires_at", "must be in the future and within ten years"));
    }
    let txn = ctx.db.begin().await?;
    let card = lock(&txn, principal.merchant_id, card_id).await?;
    if card.status != "active" {
        return Err(Error::Conflict(Conflict::CountCardUnusable));
    }
    count_cards::Entity::update_many()
        .col_expr(count_cards::Column::ExpiresAt, Expr::value(Some(expires_at)))
        .filter(count_cards::Column::Id.eq(card_id))
        .exec(&txn)
        .await?;
    record(
        &txn,
        principal,
        "count_card.extended",
        card_id,
        json!({ "from": card.expires_at, "to": expires_at, "reason": why }),
    )
    .await?;
    txn.commit().await?;
    get(ctx, principal, card_id).await
}

pub struct TransferInput {
    pub to_member_id: i64,
    pub reason: String,
    pub idempotency_key: String,
}

/// Gives what is left on the card to another member: a new card for them with the same sessions, services, expiry
/// and deferred value, the old one closed as `transferred`. Audited.
pub async fn transfer(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    card_id: i64,
    input: TransferInput,
) -> Result<CountCard> {
    principal.require(Permission::Refund)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let why = audit::reason(&input.reason)?;
    let merchant_id = principal.merchant_id;
    let to = input.to_member_id;
    let fingerprint = fingerprint(&json!(["count_card_transfer", card_id, to, why]));
    let mut new_card = None;
    let (entry_id, _) = ledger::once(&ctx.db, merchant_id, key.as_str(), &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        let card = lock(&txn, merchant_id, card_id).await?;
        require_usable(&card, ctx.now())?;
        if card.member_id == to {
            return Err(Error::invalid("to_member_id", "the card already belongs to this member"));
        }
        crate::members::live_row(&txn, merchant_id, to).await.map_err(|e| match e {
            Error::NotFound(_) => Error::invalid("to_member_id", "no such member"),
            other => other,
        })?;
        let (left, value) = balances(&txn, merchant_id, &card).await?;
        if left == 0 {
            return Err(Error::Conflict(Conflict::CountCardUnusable));
        }
        let now = ctx.now();
        let mut copy: count_cards::ActiveModel = card.clone().into();
        copy.id = sea_orm::ActiveValue::NotSet;
        copy.member_id = Set(to);
        copy.created_at = Set(now);
        copy.updated_at = Set(now);
        let created = count_cards::Entity::insert(copy).exec(&txn).await?.last_insert_id;
        count_cards::Entity::update_many()
            .col_expr(count_cards::Column::Status, Expr::value("transferred"))
            .filter(count_cards::Column::Id.eq(card_id))
            .exec(&txn)
            .await?;
        let mut draft = Draft::new(merchant_id, "count_card_transfer", Cause::Staff(principal.staff_id));
        draft.store_id = Some(card.store_id);
        draft.member_id = Some(card.member_id);
        draft.idempotency_key = Some(key.as_str().to_owned());
        draft.fingerprint = Some(fingerprint.clone());
        draft.memo = format!("次卡转赠 → 会员 {to}: {why}");
        draft.debit(sessions(&card), left).credit(Account::card(created, to, AccountKind::CardSessions), left);
        draft.debit(deferred(&card), value).credit(Account::card(created, to, AccountKind::CardDeferred), value);
        let entry_id = ledger::post(&txn, &draft).await?;
        record(
            &txn,
            principal,
            "count_card.transferred",
            card_id,
            json!({ "to_member_id": to, "new_card_id": created, "sessions": left, "value_fen": value, "reason": why }),
        )
        .await?;
        txn.commit().await?;
        new_card = Some(created);
        Ok(entry_id)
    })
    .await?;
    let created = match new_card {
        Some(id) => id,
        // A replay: find the card the first transfer made from the entry's lines.
        None => transferred_card(ctx, merchant_id, entry_id, to).await?,
    };
    get(ctx, principal, created).await
}

/// On a replayed transfer: the card the first transfer made, found from the sessions account its entry credited.
async fn transferred_card(ctx: &AppContext, merchant_id: i64, entry_id: i64, to: i64) -> Result<i64> {
    let account_ids: Vec<i64> = entity::journal_lines::Entity::find()
        .filter(entity::journal_lines::Column::EntryId.eq(entry_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|line| line.account_id)
        .collect();
    let accounts = entity::ledger_accounts::Entity::find()
        .filter(entity::ledger_accounts::Column::MerchantId.eq(merchant_id))
        .filter(entity::ledger_accounts::Column::Id.is_in(account_ids))
        .filter(entity::ledger_accounts::Column::MemberId.eq(to))
        .filter(entity::ledger_accounts::Column::Kind.eq(AccountKind::CardSessions.as_str()))
        .all(&ctx.db)
        .await?;
    accounts
        .iter()
        .find_map(|account| account.key.strip_prefix("card:")?.split(':').next()?.parse().ok())
        .ok_or(Error::NotFound("count card"))
}

pub struct RefundInput {
    pub store_id: i64,
    pub tender: String,
    pub reason: String,
    pub idempotency_key: String,
}

/// Refunds the unused sessions at the card's unit price (exactly its deferred value), paid out by cash or bank
/// card, and closes the card. Audited.
pub async fn refund(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    card_id: i64,
    input: RefundInput,
) -> Result<CountCard> {
    principal.require(Permission::Refund)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let why = audit::reason(&input.reason)?;
    let tender =
        DeskTender::parse(&input.tender).ok_or_else(|| Error::invalid("tender", "must be cash or bank_card"))?;
    let merchant_id = principal.merchant_id;
    let store_id = input.store_id;
    let fingerprint = fingerprint(&json!(["count_card_refund", card_id, store_id, tender.as_str(), why]));
    ledger::once(&ctx.db, merchant_id, key.as_str(), &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        // The card first: another merchant's card is not found, whatever store the request names.
        let card = lock(&txn, merchant_id, card_id).await?;
        crate::foundation::stores::require_open(&txn, principal, store_id).await?;
        if card.status != "active" {
            return Err(Error::Conflict(Conflict::CountCardUnusable));
        }
        let (left, value) = balances(&txn, merchant_id, &card).await?;
        let mut draft = Draft::new(merchant_id, "count_card_refund", Cause::Staff(principal.staff_id));
        draft.store_id = Some(store_id);
        draft.member_id = Some(card.member_id);
        draft.idempotency_key = Some(key.as_str().to_owned());
        draft.fingerprint = Some(fingerprint.clone());
        draft.memo = format!("次卡退卡 {}: {why}", card.name);
        draft.debit(sessions(&card), left).credit(Account::store(store_id, AccountKind::SessionsIssued), left);
        draft.debit(deferred(&card), value).credit(tender.account(store_id), value);
        let entry_id = ledger::post(&txn, &draft).await?;
        count_cards::Entity::update_many()
            .col_expr(count_cards::Column::Status, Expr::value("refunded"))
            .filter(count_cards::Column::Id.eq(card_id))
            .exec(&txn)
            .await?;
        // The sale counted towards the member's spend; what is paid back no longer does.
        let standing = crate::loyalty::levels::standing(&txn, merchant_id, card.member_id).await?;
        crate::members::lower_totals(&txn, card.member_id, Fen::new(value), Fen::ZERO).await?;
        let cause = json!({ "count_card_id": card_id, "entry_id": entry_id });
        crate::loyalty::levels::follow_return(&txn, merchant_id, standing, Actor::Staff(principal.staff_id), cause)
            .await?;
        record(
            &txn,
            principal,
            "count_card.refunded",
            card_id,
            json!({ "sessions": left, "refunded_fen": value, "tender": tender.as_str(), "reason": why, "entry_id": entry_id }),
        )
        .await?;
        // The slip both sign, stating the member as the refund left them.
        let stated = crate::cards::statement(&txn, merchant_id, card.member_id, &[card_id], ctx.now()).await?;
        let slip = crate::store::print_queue::Job {
            merchant_id,
            store_id,
            kind: crate::store::print_queue::JobKind::CardRefund,
            subject_id: entry_id,
            stated: Some(&stated),
        };
        crate::store::print_queue::queue_into(&txn, slip).await?;
        txn.commit().await?;
        crate::store::print_queue::announce(ctx, store_id).await;
        Ok(entry_id)
    })
    .await?;
    get(ctx, principal, card_id).await
}

/// The breakage job, for one count card past its expiry under the `at_expiry` policy: the sessions left are
/// retired and the value not yet recognised becomes breakage income at the store that sold the card; the card is
/// `expired`. Returns the fen recognised, or `None` when the card is no longer active (done already, or refunded).
pub(crate) async fn recognise_breakage(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    card_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let card = lock(conn, merchant_id, card_id).await?;
    if card.status != "active" || card.expires_at.is_none_or(|at| at > now) {
        return Ok(None);
    }
    let (left, value) = balances(conn, merchant_id, &card).await?;
    let mut draft = Draft::new(merchant_id, "card_breakage", Cause::Job("breakage"));
    draft.store_id = Some(card.store_id);
    draft.member_id = Some(card.member_id);
    draft.memo = format!("次卡过期 {}", card.name);
    draft.debit(sessions(&card), left).credit(Account::store(card.store_id, AccountKind::SessionsIssued), left);
    draft.debit(deferred(&card), value).credit(Account::store(card.store_id, AccountKind::Breakage), value);
    let entry_id = if left > 0 || value > 0 { Some(ledger::post(conn, &draft).await?) } else { None };
    count_cards::Entity::update_many()
        .col_expr(count_cards::Column::Status, Expr::value("expired"))
        .filter(count_cards::Column::Id.eq(card_id))
        .exec(conn)
        .await?;
    audit::record(
        conn,
        Event {
            merchant_id: Some(merchant_id),
            actor: Actor::System,
            action: "count_card.expired",
            target: Some(("count_card", card_id)),
            detail: json!({ "sessions": left, "breakage_fen": value, "entry_id": entry_id }),
            ip: None,
        },
    )
    .await?;
    Ok(Some(value))
}

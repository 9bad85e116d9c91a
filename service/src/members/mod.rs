//! Members: the people a merchant serves.
//!
//! Phone, real name and allergy notes are sealed by the vault; phone and name are found through blind indexes.
//! Members belong to the merchant, not to one store: a chain's member is welcome at every store, so every staff
//! member who may read members sees all of the merchant's. A home store, when set, must be in the writer's scope.
//! Roles without `MemberContactRead` see phone and name masked.

pub mod allergies;
pub mod auth;
pub(crate) mod birthdays;
pub mod code;
pub mod consents;
pub mod notes;
pub mod privacy;
mod read;

pub use allergies::Allergy;
use allergies::open_allergy;
pub use consents::Consent;
use notes::{parse_tags, write_tags};

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationDef, TransactionTrait,
};
use serde_json::{Value, json};

use entity::{member_allergies, member_levels, member_tags, members, merchants};

use crate::domain::{Fen, Gender, MemberCode, Permission, PersonName, PhoneNumber, Tag};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::{AppContext, Conflict, Error, Result};

pub const PHONE_INDEX: &str = "member.phone";
pub const NAME_INDEX: &str = "member.name";

/// A member's level, with its discount and points rules.
pub use crate::loyalty::levels::Level;

/// A member as one viewer may see them (contact details masked or not).
#[derive(Clone, Debug)]
pub struct MemberView {
    pub id: i64,
    pub nickname: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub phone_masked: bool,
    pub gender: Gender,
    pub birthday: Option<NaiveDate>,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub total_spend_fen: Fen,
    pub home_store_id: Option<i64>,
    pub preferences: Value,
    pub allergies: Vec<Allergy>,
    /// The member's answer in force on marketing messages; `None` when never asked (treated as no).
    pub marketing_consent: Option<Consent>,
    pub source: String,
    pub anonymised: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct MemberInput {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub home_store_id: Option<i64>,
    pub preferences: Option<Value>,
}

#[derive(Default)]
pub struct MemberQuery {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub level_id: Option<i64>,
    pub tag: Option<String>,
    pub birthday_month: Option<i32>,
    pub min_spend_fen: Option<Fen>,
    pub max_spend_fen: Option<Fen>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().clamp(1, 3))),
        None => String::new(),
    }
}

/// How a member is named on a list staff glance at (the day board, a booking): the real name when the viewer may
/// see it, else masked; the nickname when there is no name.
pub(crate) fn label(ctx: &AppContext, row: &members::Model, contact: bool) -> Result<String> {
    let name = ctx.vault.open_opt(Field::MemberName, row.name_sealed.as_deref())?;
    Ok(match name {
        Some(name) if contact => name,
        Some(name) => mask_name(&name),
        None if !row.nickname.is_empty() => row.nickname.clone(),
        None => format!("#{}", row.id),
    })
}

fn parse_phone(value: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(value).map_err(|m| Error::invalid("phone", m))
}

fn parse_nickname(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > 40 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid("nickname", "must be at most 40 characters"));
    }
    Ok(trimmed.to_owned())
}

fn parse_birthday(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    if date > today || date.year() < 1900 {
        return Err(Error::invalid("birthday", "must be a past date after 1900"));
    }
    Ok(date)
}

fn parse_preferences(value: Value) -> Result<String> {
    if !value.is_object() {
        return Err(Error::invalid("preferences", "must be a JSON object"));
    }
    let text = value.to_string();
    if text.len() > 4096 {
        return Err(Error::invalid("preferences", "must be at most 4 KiB"));
    }
    Ok(text)
}

/// Takes money paid back out of the member's cumulative spend and recharge (what levels are earned with), never
/// below zero: a total from before the ledger counted it may be smaller than what is paid back.
pub(crate) async fn lower_totals(conn: &impl ConnectionTrait, member_id: i64, spend: Fen, recharge: Fen) -> Result<()> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    members::Entity::update_many()
        .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).sub(spend.get()))
        .col_expr(members::Column::TotalRechargeFen, Expr::col(members::Column::TotalRechargeFen).sub(recharge.get()))
        .filter(members::Column::Id.eq(member_id))
        .exec(conn)
        .await?;
    for column in [members::Column::TotalSpendFen, members::Column::TotalRechargeFen] {
        members::Entity::update_many()
            .col_expr(column, Expr::value(0i64))
            .filter(members::Column::Id.eq(member_id))
            .filter(column.lt(0))
            .exec(conn)
            .await?;
    }
    Ok(())
}

async fn default_level(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Option<i64>> {
    Ok(member_levels::Entity::find()
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .order_by_asc(member_levels::Column::Rank)
        .one(conn)
        .await?
        .map(|level| level.id))
}

async fn check_home_store(conn: &impl ConnectionTrait, principal: &StaffPrincipal, store_id: i64) -> Result<()> {
    crate::foundation::stores::in_scope(conn, principal, store_id).await.map(|_| ())
}

/// Builds the view of one member row for a viewer who may or may not see contact details.
pub(super) async fn view(
    ctx: &AppContext,
    row: members::Model,
    contact: bool,
    with_details: bool,
) -> Result<MemberView> {
    let mut views = views(ctx, vec![row], contact, with_details).await?;
    views.pop().ok_or(Error::NotFound("member"))
}

/// Members as a list shows them (no details), contact masked unless `contact`.
pub(crate) async fn views_for(ctx: &AppContext, rows: Vec<members::Model>, contact: bool) -> Result<Vec<MemberView>> {
    views(ctx, rows, contact, false).await
}

async fn views(ctx: &AppContext, rows: Vec<members::Model>, contact: bool, details: bool) -> Result<Vec<MemberView>> {
    let related = Related::of(&ctx.db, &rows, details).await?;
    assemble(ctx, rows, related, contact)
}

/// What members' views show besides their own rows: tags, the level, and with details allergy notes and the
/// answer in force on marketing.
#[derive(Default)]
struct Related {
    tags: HashMap<i64, Vec<String>>,
    allergies: HashMap<i64, Vec<member_allergies::Model>>,
    consents: HashMap<i64, Consent>,
    levels: HashMap<i64, member_levels::Model>,
}

impl Related {
    async fn of(conn: &impl ConnectionTrait, rows: &[members::Model], details: bool) -> Result<Self> {
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let mut related = Related::default();
        for tag in member_tags::Entity::find()
            .filter(member_tags::Column::MemberId.is_in(ids.clone()))
            .order_by_asc(member_tags::Column::Tag)
            .all(conn)
            .await?
        {
            related.tags.entry(tag.member_id).or_default().push(tag.tag);
        }
        if details {
            for row in member_allergies::Entity::find()
                .filter(member_allergies::Column::MemberId.is_in(ids.clone()))
                .order_by_asc(member_allergies::Column::Id)
                .all(conn)
                .await?
            {
                related.allergies.entry(row.member_id).or_default().push(row);
            }
            // The rows are one merchant's (every caller reads its own merchant's members).
            if let Some(first) = rows.first() {
                related.consents = consents::latest_of(conn, first.merchant_id, &ids).await?;
            }
        }
        let level_ids: Vec<i64> = rows.iter().filter_map(|row| row.level_id).collect();
        if !level_ids.is_empty() {
            related.levels = member_levels::Entity::find()
                .filter(member_levels::Column::Id.is_in(level_ids))
                .all(conn)
                .await?
                .into_iter()
                .map(|level| (level.id, level))
                .collect();
        }
        Ok(related)
    }
}

fn assemble(
    ctx: &AppContext,
    rows: Vec<members::Model>,
    mut related: Related,
    contact: bool,
) -> Result<Vec<MemberView>> {
    let levels: HashMap<i64, Level> = related
        .levels
        .into_iter()
        .map(|(id, level)| Ok((id, crate::loyalty::levels::to_level(level)?)))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let phone = ctx.vault.open_opt(Field::MemberPhone, row.phone_sealed.as_deref())?;
        let name = ctx.vault.open_opt(Field::MemberName, row.name_sealed.as_deref())?;
        let (phone, name) = if contact {
            (phone, name)
        } else {
            (
                phone.map(|p| PhoneNumber::parse(&p).map(|p| p.masked()).unwrap_or_else(|_| "****".into())),
                name.map(|n| mask_name(&n)),
            )
        };
        let (birthday, preferences) = (birthday_of(ctx, &row)?, preferences_of(ctx, &row)?);
        let allergies = related.allergies.remove(&row.id).unwrap_or_default();
        out.push(MemberView {
            id: row.id,
            nickname: row.nickname,
            name,
            phone,
            phone_masked: !contact,
            gender: Gender::from_db(&row.gender),
            birthday,
            level: row.level_id.and_then(|id| levels.get(&id).cloned()),
            tags: related.tags.remove(&row.id).unwrap_or_default(),
            total_spend_fen: Fen::new(row.total_spend_fen),
            home_store_id: row.home_store_id,
            preferences,
            allergies: allergies.into_iter().map(|a| open_allergy(ctx, a)).collect::<Result<_>>()?,
            marketing_consent: related.consents.remove(&row.id),
            source: row.source,
            anonymised: row.anonymised_at.is_some(),
            created_at: row.created_at,
        });
    }
    Ok(out)
}

/// The member row of this merchant, or `NotFound` (another merchant's member does not exist for you).
pub(crate) async fn row(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<members::Model> {
    members::Entity::find_by_id(member_id)
        .filter(members::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("member"))
}

/// A member of the merchant whose data was not deleted.
pub(crate) async fn live_row(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<members::Model> {
    let member = row(conn, merchant_id, member_id).await?;
    live(&member)?;
    Ok(member)
}

/// The merchant's row with, when `member_id` is given, that live member's, read together: checkout needs both
/// before anything else, and one query saves a round trip on every bill.
pub(crate) async fn live_row_and_merchant(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: Option<i64>,
) -> Result<(Option<members::Model>, merchants::Model)> {
    let Some(member_id) = member_id else {
        return Ok((None, crate::foundation::merchants::row(conn, merchant_id).await?));
    };
    let of_merchant: RelationDef = members::Entity::belongs_to(merchants::Entity)
        .from(members::Column::MerchantId)
        .to(merchants::Column::Id)
        .into();
    let (member, merchant) = members::Entity::find_by_id(member_id)
        .filter(members::Column::MerchantId.eq(merchant_id))
        .join(JoinType::InnerJoin, of_merchant)
        .select_also(merchants::Entity)
        .one(conn)
        .await?
        .ok_or(Error::NotFound("member"))?;
    live(&member)?;
    Ok((Some(member), merchant.ok_or(Error::NotFound("merchant"))?))
}

pub(crate) fn live(row: &members::Model) -> Result<()> {
    if row.anonymised_at.is_some() { Err(Error::Conflict(Conflict::MemberAnonymised)) } else { Ok(()) }
}

/// Fields common to creation by staff and by a first mini-program sign-in.
pub(crate) struct NewMemberRow {
    pub merchant_id: i64,
    pub source: &'static str,
    pub nickname: String,
    pub phone: Option<PhoneNumber>,
}

pub(crate) async fn insert_row(
    ctx: &AppContext,
    conn: &impl ConnectionTrait,
    new: NewMemberRow,
) -> Result<members::Model> {
    let now = ctx.now();
    members::ActiveModel {
        merchant_id: Set(new.merchant_id),
        home_store_id: Set(None),
        nickname: Set(new.nickname),
        name_sealed: Set(None),
        name_index: Set(None),
        phone_sealed: Set(new.phone.as_ref().map(|p| ctx.vault.seal(Field::MemberPhone, p.as_str()))),
        phone_index: Set(new.phone.as_ref().map(|p| ctx.vault.blind_index(PHONE_INDEX, p.as_str()))),
        gender: Set(Gender::Unknown.as_str().to_owned()),
        birthday: Set(None),
        birthday_sealed: Set(None),
        birth_month: Set(None),
        birth_day: Set(None),
        level_id: Set(default_level(conn, new.merchant_id).await?),
        total_spend_fen: Set(0),
        preferences: Set("{}".to_owned()),
        preferences_sealed: Set(None),
        source: Set(new.source.to_owned()),
        anonymised_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { Error::Conflict(Conflict::PhoneTaken) } else { e.into() })
}

/// Applies profile changes to an active model; shared by staff edits and the member's own edits.
fn apply_changes(ctx: &AppContext, active: &mut members::ActiveModel, input: MemberInput) -> Result<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(phone) = input.phone {
        let phone = parse_phone(&phone)?;
        active.phone_sealed = Set(Some(ctx.vault.seal(Field::MemberPhone, phone.as_str())));
        active.phone_index = Set(Some(ctx.vault.blind_index(PHONE_INDEX, phone.as_str())));
        changed.push("phone");
    }
    if let Some(name) = input.name {
        let name = PersonName::parse(&name).map_err(|m| Error::invalid("name", m))?;
        active.name_sealed = Set(Some(ctx.vault.seal(Field::MemberName, name.as_str())));
        active.name_index = Set(Some(ctx.vault.blind_index(NAME_INDEX, &name.normalised())));
        changed.push("name");
    }
    if let Some(nickname) = input.nickname {
        active.nickname = Set(parse_nickname(&nickname)?);
        changed.push("nickname");
    }
    if let Some(gender) = input.gender {
        active.gender = Set(gender.as_str().to_owned());
        changed.push("gender");
    }
    if let Some(birthday) = input.birthday {
        let birthday = parse_birthday(birthday, ctx.now().date_naive())?;
        active.birthday_sealed = Set(Some(ctx.vault.seal(Field::MemberBirthday, &birthday.to_string())));
        active.birthday = Set(None);
        active.birth_month = Set(i32::try_from(birthday.month()).ok());
        active.birth_day = Set(i32::try_from(birthday.day()).ok());
        changed.push("birthday");
    }
    if let Some(preferences) = input.preferences {
        let text = parse_preferences(preferences)?;
        active.preferences_sealed = Set(Some(ctx.vault.seal(Field::MemberPreferences, &text)));
        active.preferences = Set("{}".to_owned());
        changed.push("preferences");
    }
    Ok(changed)
}

/// The full birthday: sealed, or plain in a row written before sealing (sealed at the next start).
pub(crate) fn birthday_of(ctx: &AppContext, row: &members::Model) -> Result<Option<NaiveDate>> {
    match ctx.vault.open_opt(Field::MemberBirthday, row.birthday_sealed.as_deref())? {
        Some(text) => {
            Ok(Some(text.parse().map_err(|e| Error::Internal(anyhow::anyhow!("sealed birthday is unreadable: {e}")))?))
        }
        None => Ok(row.birthday),
    }
}

fn preferences_of(ctx: &AppContext, row: &members::Model) -> Result<Value> {
    let text = ctx.vault.open_opt(Field::MemberPreferences, row.preferences_sealed.as_deref())?;
    Ok(serde_json::from_str(text.as_deref().unwrap_or(&row.preferences)).unwrap_or_else(|_| json!({})))
}

/// Seals what rows written before sealing hold in plain (birthdays, preferences, notes) and empties the plain
/// columns, and gives rows sealed before the birth day was kept their month and day; run at start, in batches.
/// Idempotent: a second run finds nothing to do.
pub async fn seal_plain_details(ctx: &AppContext) -> Result<u64> {
    use sea_orm::QuerySelect;
    let mut sealed = 0;
    loop {
        let rows = members::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(members::Column::Birthday.is_not_null())
                    .add(members::Column::Preferences.ne("{}"))
                    .add(members::Column::BirthdaySealed.is_not_null().and(members::Column::BirthDay.is_null())),
            )
            .limit(500)
            .all(&ctx.db)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let (birthday, preferences) = (birthday_of(ctx, &row)?, preferences_of(ctx, &row)?);
            let mut active: members::ActiveModel = row.into();
            active.birthday_sealed = Set(birthday.map(|b| ctx.vault.seal(Field::MemberBirthday, &b.to_string())));
            active.birthday = Set(None);
            active.birth_month = Set(birthday.and_then(|b| i32::try_from(b.month()).ok()));
            active.birth_day = Set(birthday.and_then(|b| i32::try_from(b.day()).ok()));
            active.preferences_sealed = Set(Some(ctx.vault.seal(Field::MemberPreferences, &preferences.to_string())));
            active.preferences = Set("{}".to_owned());
            active.update(&ctx.db).await?;
            sealed += 1;
        }
    }
    sealed += notes::seal_plain(ctx).await?;
    Ok(sealed)
}

pub async fn create(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: MemberInput,
    tags: Vec<String>,
) -> Result<MemberView> {
    principal.require(Permission::MemberWrite)?;
    let phone = parse_phone(input.phone.as_deref().ok_or_else(|| Error::invalid("phone", "is required"))?)?;
    let tags = parse_tags(&tags)?;
    if let Some(store_id) = input.home_store_id {
        check_home_store(&ctx.db, principal, store_id).await?;
    }
    let txn = ctx.db.begin().await?;
    let row = insert_row(
        ctx,
        &txn,
        NewMemberRow {
            merchant_id: principal.merchant_id,
            source: "desk",
            nickname: String::new(),
            phone: Some(phone),
        },
    )
    .await?;
    let mut active: members::ActiveModel = row.into();
    active.home_store_id = Set(input.home_store_id);
    apply_changes(ctx, &mut active, MemberInput { phone: None, ..input })?;
    let row = active.update(&txn).await?;
    write_tags(&txn, principal.merchant_id, row.id, &tags).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "member.created",
            target: Some(("member", row.id)),
            detail: json!({ "source": "desk" }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    crate::coupons::issue::welcome(ctx, principal.merchant_id, row.id).await;
    view(ctx, row, principal.can(Permission::MemberContactRead), true).await
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<MemberView> {
    principal.require(Permission::MemberRead)?;
    let (row, related) = read::one(ctx, principal.merchant_id, read::Key::Id(member_id)).await?;
    one_view(ctx, row, related, principal.can(Permission::MemberContactRead))
}

fn one_view(ctx: &AppContext, row: members::Model, related: Related, contact: bool) -> Result<MemberView> {
    assemble(ctx, vec![row], related, contact)?.pop().ok_or(Error::NotFound("member"))
}

pub async fn update(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    input: MemberInput,
) -> Result<MemberView> {
    principal.require(Permission::MemberWrite)?;
    let txn = ctx.db.begin().await?;
    let current = row(&txn, principal.merchant_id, member_id).await?;
    live(&current)?;
    if let Some(store_id) = input.home_store_id {
        check_home_store(&txn, principal, store_id).await?;
    }
    let mut active: members::ActiveModel = current.into();
    if let Some(store_id) = input.home_store_id {
        active.home_store_id = Set(Some(store_id));
    }
    let changed = apply_changes(ctx, &mut active, input)?;
    active.updated_at = Set(ctx.now());
    let row = active
        .update(&txn)
        .await
        .map_err(|e| if is_unique_violation(&e) { Error::Conflict(Conflict::PhoneTaken) } else { e.into() })?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "member.updated",
            target: Some(("member", member_id)),
            detail: json!({ "changed": changed }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    view(ctx, row, principal.can(Permission::MemberContactRead), true).await
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("m:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("m:").and_then(|id| id.parse().ok()))
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API returned"))
}

/// Filtered, newest first, cursor-paginated. Phone and name match exactly (through their blind indexes); the name
/// filter also matches nicknames containing it.
pub async fn search(ctx: &AppContext, principal: &StaffPrincipal, query: MemberQuery) -> Result<Page<MemberView>> {
    principal.require(Permission::MemberRead)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1–100"));
    }
    let mut condition = filter(ctx, principal.merchant_id, &query)?;
    if let Some(cursor) = &query.cursor {
        condition = condition.add(members::Column::Id.lt(decode_cursor(cursor)?));
    }
    let mut rows = members::Entity::find()
        .filter(condition)
        .order_by_desc(members::Column::Id)
        .limit(limit + 1)
        .all(&ctx.db)
        .await?;
    let next_cursor = if u64::try_from(rows.len()).unwrap_or(0) > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|row| encode_cursor(row.id))
    } else {
        None
    };
    let items = views(ctx, rows, principal.can(Permission::MemberContactRead), false).await?;
    Ok(Page { items, next_cursor })
}

/// The members of `merchant_id` a query's filters select (its cursor and limit aside): the member list, and a
/// coupon grant to everyone the list shows.
pub(crate) fn filter(ctx: &AppContext, merchant_id: i64, query: &MemberQuery) -> Result<Condition> {
    let mut condition = Condition::all().add(members::Column::MerchantId.eq(merchant_id));
    if let Some(phone) = &query.phone {
        let phone = parse_phone(phone)?;
        condition = condition.add(members::Column::PhoneIndex.eq(ctx.vault.blind_index(PHONE_INDEX, phone.as_str())));
    }
    if let Some(name) = &query.name {
        let name = PersonName::parse(name).map_err(|m| Error::invalid("name", m))?;
        condition = condition.add(
            Condition::any()
                .add(members::Column::NameIndex.eq(ctx.vault.blind_index(NAME_INDEX, &name.normalised())))
                .add(members::Column::Nickname.contains(name.as_str())),
        );
    }
    if let Some(level_id) = query.level_id {
        condition = condition.add(members::Column::LevelId.eq(level_id));
    }
    if let Some(tag) = &query.tag {
        let tag = Tag::parse(tag).map_err(|m| Error::invalid("tag", m))?;
        condition = condition.add(
            members::Column::Id.in_subquery(
                Query::select()
                    .column(member_tags::Column::MemberId)
                    .from(member_tags::Entity)
                    .and_where(Expr::col(member_tags::Column::MerchantId).eq(merchant_id))
                    .and_where(Expr::col(member_tags::Column::Tag).eq(tag.as_str()))
                    .take(),
            ),
        );
    }
    if let Some(month) = query.birthday_month {
        if !(1..=12).contains(&month) {
            return Err(Error::invalid("birthday_month", "must be 1–12"));
        }
        condition = condition.add(members::Column::BirthMonth.eq(month));
    }
    match (query.min_spend_fen, query.max_spend_fen) {
        (Some(min), Some(max)) if min > max => {
            return Err(Error::invalid("min_spend_fen", "must not exceed max_spend_fen"));
        }
        (Some(v), _) | (_, Some(v)) if v < Fen::ZERO => return Err(Error::invalid("spend", "must not be negative")),
        _ => {}
    }
    if let Some(min) = query.min_spend_fen {
        condition = condition.add(members::Column::TotalSpendFen.gte(min));
    }
    if let Some(max) = query.max_spend_fen {
        condition = condition.add(members::Column::TotalSpendFen.lte(max));
    }
    Ok(condition)
}

/// The desk's one input box: a scanned member code or a typed phone number opens the member.
pub async fn lookup(ctx: &AppContext, principal: &StaffPrincipal, input: &str) -> Result<MemberView> {
    principal.require(Permission::MemberRead)?;
    let input = input.trim();
    let (row, related) = if MemberCode::looks_like(input) {
        let claims = crate::members::code::verify_member_code(ctx, input)?;
        let found = read::one(ctx, principal.merchant_id, read::Key::Id(claims.member_id)).await?;
        live(&found.0)?;
        // Spent on identifying: this code is no longer consent to a debit (the member shows a fresh one for that).
        // Scanning it again to open the member is fine.
        let used = code::CodeUse::new(ctx, principal.merchant_id, input, claims);
        match used.record(&ctx.db, "identify", None, Some(principal.staff_id)).await {
            Ok(()) | Err(Error::Conflict(Conflict::MemberCodeUsed)) => {}
            Err(err) => return Err(err),
        }
        found
    } else {
        let phone = PhoneNumber::parse(input)
            .map_err(|_| Error::invalid("query", "scan a member code or type an 11-digit phone number"))?;
        let index = ctx.vault.blind_index(PHONE_INDEX, phone.as_str());
        read::one(ctx, principal.merchant_id, read::Key::Phone(index)).await?
    };
    live(&row)?;
    one_view(ctx, row, related, principal.can(Permission::MemberContactRead))
}

/// The member's own view: always unmasked (it is their data).
pub async fn own(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<MemberView> {
    let (row, related) = read::one(ctx, merchant_id, read::Key::Id(member_id)).await?;
    one_view(ctx, row, related, true)
}

/// The member edits their own profile (nickname, gender, birthday, preferences; not phone or level).
pub async fn update_own(ctx: &AppContext, merchant_id: i64, member_id: i64, input: MemberInput) -> Result<MemberView> {
    if input.phone.is_some() || input.home_store_id.is_some() {
        return Err(Error::invalid("body", "members may change nickname, name, gender, birthday and preferences"));
    }
    let txn = ctx.db.begin().await?;
    let current = row(&txn, merchant_id, member_id).await?;
    live(&current)?;
    let mut active: members::ActiveModel = current.into();
    apply_changes(ctx, &mut active, input)?;
    active.updated_at = Set(ctx.now());
    let row = active.update(&txn).await?;
    txn.commit().await?;
    view(ctx, row, true, true).await
}

pub async fn levels(ctx: &AppContext, merchant_id: i64) -> Result<Vec<Level>> {
    member_levels::Entity::find()
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .order_by_asc(member_levels::Column::Rank)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(crate::loyalty::levels::to_level)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mask_to_first_character() {
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name("Alexander"), "A***");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("bm90IGEgY3Vyc29y").is_err());
        assert!(decode_cursor("!!").is_err());
    }
}

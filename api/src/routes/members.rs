use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{ConsentPurpose, Fen, Gender, Severity};
use service::members::{Allergy, Consent, Level, MemberInput, MemberQuery, MemberView};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_members)
        .service(create_member)
        .service(lookup_member)
        .service(get_member)
        .service(update_member)
        .service(set_member_level)
        .service(replace_member_tags)
        .service(list_member_notes)
        .service(create_member_note)
        .service(create_member_allergy)
        .service(delete_member_allergy)
        .service(export_member)
        .service(anonymise_member)
        .service(list_member_levels);
}

/// A member level and what it gives.
#[derive(Serialize, ToSchema)]
pub struct LevelDto {
    pub id: i64,
    #[schema(example = "金卡会员")]
    pub name: String,
    /// Higher is better; the default level has rank 0.
    pub rank: i32,
    /// Cumulative spend or recharge (by the merchant's `level_basis`) that qualifies, in fen.
    pub threshold_fen: Fen,
    /// What members of the level pay, in basis points of the price (9000 = 9折).
    pub discount_bp: i32,
    /// Item category → basis points, overriding `discount_bp`.
    pub category_discounts: std::collections::BTreeMap<String, i32>,
    /// Points multiplier in percent (150 = 1.5×).
    pub points_multiplier_pct: i32,
}

impl From<Level> for LevelDto {
    fn from(l: Level) -> Self {
        Self {
            id: l.id,
            name: l.name,
            rank: l.rank,
            threshold_fen: l.threshold_fen,
            discount_bp: l.discount_bp,
            category_discounts: l.category_discounts,
            points_multiplier_pct: l.points_multiplier_pct,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AllergyDto {
    pub id: i64,
    #[schema(example = "PPD")]
    pub substance: String,
    pub severity: Severity,
    pub note: Option<String>,
    /// Told by the member in the app (they may withdraw it) rather than recorded at the desk.
    pub by_member: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Allergy> for AllergyDto {
    fn from(a: Allergy) -> Self {
        Self {
            id: a.id,
            substance: a.substance,
            severity: a.severity,
            note: a.note,
            by_member: a.by_member,
            created_at: a.created_at,
        }
    }
}

/// A member's answer on marketing messages, and how it was given.
#[derive(Serialize, ToSchema)]
pub struct ConsentDto {
    /// What the answer is for: marketing at all, by SMS, or personalised marketing.
    pub purpose: ConsentPurpose,
    pub granted: bool,
    /// `wechat`, `alipay`, `sandbox` (the app they answered in), `desk` (staff at their request) or `sms_reply`
    /// (they replied to an SMS to opt out).
    pub channel: String,
    /// The sentence shown when they answered.
    pub wording: String,
    /// The staff member who recorded it at the member's request.
    pub recorded_by: Option<i64>,
    pub given_at: DateTime<Utc>,
}

impl From<Consent> for ConsentDto {
    fn from(c: Consent) -> Self {
        Self {
            purpose: c.purpose,
            granted: c.granted,
            channel: c.channel,
            wording: c.wording,
            recorded_by: c.recorded_by,
            given_at: c.given_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberDto {
    pub id: i64,
    pub nickname: String,
    /// Real name; masked (`王**`) for roles that don't see contact details.
    pub name: Option<String>,
    /// Phone; masked (`138****5678`) for roles that don't see contact details.
    pub phone: Option<String>,
    pub contact_masked: bool,
    pub gender: Gender,
    pub birthday: Option<NaiveDate>,
    pub level: Option<LevelDto>,
    pub tags: Vec<String>,
    pub total_spend_fen: Fen,
    pub home_store_id: Option<i64>,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    /// Allergy and contraindication notes (empty in search results).
    pub allergies: Vec<AllergyDto>,
    /// Their answer in force on marketing messages; absent when never asked, which counts as no (absent in search
    /// results too).
    pub marketing_consent: Option<ConsentDto>,
    /// desk, wechat, alipay or sandbox.
    pub source: String,
    pub anonymised: bool,
    pub created_at: DateTime<Utc>,
}

impl From<MemberView> for MemberDto {
    fn from(m: MemberView) -> Self {
        Self {
            id: m.id,
            nickname: m.nickname,
            name: m.name,
            phone: m.phone,
            contact_masked: m.phone_masked,
            gender: m.gender,
            birthday: m.birthday,
            level: m.level.map(LevelDto::from),
            tags: m.tags,
            total_spend_fen: m.total_spend_fen,
            home_store_id: m.home_store_id,
            preferences: m.preferences,
            allergies: m.allergies.into_iter().map(AllergyDto::from).collect(),
            marketing_consent: m.marketing_consent.map(ConsentDto::from),
            source: m.source,
            anonymised: m.anonymised,
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct MemberSearch {
    /// Exact phone number.
    pub phone: Option<String>,
    /// Exact real name, or part of a nickname.
    pub name: Option<String>,
    pub level_id: Option<i64>,
    pub tag: Option<String>,
    /// 1–12.
    pub birthday_month: Option<i32>,
    pub min_spend_fen: Option<Fen>,
    pub max_spend_fen: Option<Fen>,
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u64>,
}

/// Search members, newest first, cursor-paginated.
#[utoipa::path(tag = "members", params(MemberSearch), responses((status = 200, body = MemberPage), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members")]
async fn list_members(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    query: web::Query<MemberSearch>,
) -> ApiResult<web::Json<MemberPage>> {
    let q = query.into_inner();
    let page = service::members::search(
        &ctx,
        &me,
        MemberQuery {
            phone: q.phone,
            name: q.name,
            level_id: q.level_id,
            tag: q.tag,
            birthday_month: q.birthday_month,
            min_spend_fen: q.min_spend_fen,
            max_spend_fen: q.max_spend_fen,
            cursor: q.cursor,
            limit: q.limit,
        },
    )
    .await?;
    Ok(web::Json(MemberPage {
        items: page.items.into_iter().map(MemberDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub home_store_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    /// Only on creation; use `PUT /members/{id}/tags` afterwards.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl MemberRequest {
    fn split(self) -> (MemberInput, Vec<String>) {
        (
            MemberInput {
                phone: self.phone,
                name: self.name,
                nickname: self.nickname,
                gender: self.gender,
                birthday: self.birthday,
                home_store_id: self.home_store_id,
                preferences: self.preferences,
            },
            self.tags,
        )
    }
}

/// Register a member at the desk (phone required).
#[utoipa::path(tag = "members", request_body = MemberRequest, responses((status = 201, body = MemberDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members")]
async fn create_member(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<MemberRequest>,
) -> ApiResult<HttpResponse> {
    let (input, tags) = body.into_inner().split();
    let member = service::members::create(&ctx, &me, input, tags).await?;
    Ok(HttpResponse::Created().json(MemberDto::from(member)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// A scanned member code (`HY…`) or a typed phone number.
    pub query: String,
}

/// Open a member at the desk from a scanned member code or a phone number.
#[utoipa::path(
    tag = "members",
    request_body = LookupRequest,
    responses((status = 200, body = MemberDto), (status = 404, body = ErrorBody), (status = 422, description = "Bad, forged or expired member code", body = ErrorBody)),
    security(("staff_token" = [])),
)]
#[post("/members/lookup")]
async fn lookup_member(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<LookupRequest>,
) -> ApiResult<web::Json<MemberDto>> {
    Ok(web::Json(service::members::lookup(&ctx, &me, &body.query).await?.into()))
}

/// One member's profile, level and tags.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 200, body = MemberDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}")]
async fn get_member(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<MemberDto>> {
    Ok(web::Json(service::members::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Changes a member's profile or home store (their level: `PUT /members/{id}/level`).
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = MemberRequest, responses((status = 200, body = MemberDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/members/{id}")]
async fn update_member(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<MemberRequest>,
) -> ApiResult<web::Json<MemberDto>> {
    let (input, _) = body.into_inner().split();
    Ok(web::Json(service::members::update(&ctx, &me, id.into_inner(), input).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelChange {
    pub level_id: i64,
    /// Why the level is set by hand (audited with the old and new level).
    pub reason: String,
}

/// Set a member's level by hand: needs `member_level_set`; audited with the old and new level and the reason. The
/// level still follows the money afterwards (a qualifying bill raises it, a refund of what earned it lowers it).
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = LevelChange, responses((status = 200, body = MemberDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/members/{id}/level")]
async fn set_member_level(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<LevelChange>,
) -> ApiResult<web::Json<MemberDto>> {
    let (id, change) = (id.into_inner(), body.into_inner());
    service::loyalty::levels::set_by_hand(&ctx, &me, id, change.level_id, &change.reason).await?;
    Ok(web::Json(service::members::get(&ctx, &me, id).await?.into()))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    pub tags: Vec<String>,
}

/// Replace the member's tags.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = TagsBody, responses((status = 200, body = TagsBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/members/{id}/tags")]
async fn replace_member_tags(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<TagsBody>,
) -> ApiResult<web::Json<TagsBody>> {
    let tags = service::members::notes::set_tags(&ctx, &me, id.into_inner(), body.into_inner().tags).await?;
    Ok(web::Json(TagsBody { tags }))
}

#[derive(Serialize, ToSchema)]
pub struct NoteDto {
    pub id: i64,
    pub staff_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<service::members::notes::Note> for NoteDto {
    fn from(n: service::members::notes::Note) -> Self {
        Self { id: n.id, staff_id: n.staff_id, body: n.body, created_at: n.created_at }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
}

/// The staff notes on a member, newest first.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 200, body = Vec<NoteDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/notes")]
async fn list_member_notes(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<NoteDto>>> {
    Ok(web::Json(
        service::members::notes::list_notes(&ctx, &me, id.into_inner()).await?.into_iter().map(NoteDto::from).collect(),
    ))
}

/// Adds a staff note to a member.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = NoteRequest, responses((status = 201, body = NoteDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/notes")]
async fn create_member_note(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<NoteRequest>,
) -> ApiResult<HttpResponse> {
    let note = service::members::notes::add_note(&ctx, &me, id.into_inner(), &body.body).await?;
    Ok(HttpResponse::Created().json(NoteDto::from(note)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllergyRequest {
    pub substance: String,
    pub severity: Severity,
    pub note: Option<String>,
}

/// Record an allergy or contraindication.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = AllergyRequest, responses((status = 201, body = AllergyDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/allergies")]
async fn create_member_allergy(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<AllergyRequest>,
) -> ApiResult<HttpResponse> {
    let allergy = service::members::allergies::add_allergy(
        &ctx,
        &me,
        id.into_inner(),
        &body.substance,
        body.severity,
        body.note.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(AllergyDto::from(allergy)))
}

/// Removes an allergy from a member.
#[utoipa::path(tag = "members", params(("id" = i64, Path), ("allergy_id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/members/{id}/allergies/{allergy_id}")]
async fn delete_member_allergy(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (member_id, allergy_id) = path.into_inner();
    service::members::allergies::remove_allergy(&ctx, &me, member_id, allergy_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything held about the member, for a request made at the desk (audited).
///
/// Store-scoped staff export only members whose home store is theirs.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/export")]
async fn export_member(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<serde_json::Value>> {
    Ok(web::Json(service::members::privacy::export_by_staff(&ctx, &me, id.into_inner()).await?))
}

/// Erase the member's personal data on their request; money records stay.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/anonymise")]
async fn anonymise_member(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    service::members::privacy::anonymise_by_staff(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The merchant's member levels, lowest first.
#[utoipa::path(tag = "members", responses((status = 200, body = Vec<LevelDto>)), security(("staff_token" = [])))]
#[get("/member-levels")]
async fn list_member_levels(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<LevelDto>>> {
    Ok(web::Json(service::members::levels(&ctx, me.merchant_id).await?.into_iter().map(LevelDto::from).collect()))
}

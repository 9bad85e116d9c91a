//! The scheduled jobs' run history, for staff who read the audit log.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_job_runs);
}

/// A run of a scheduled job. Jobs serve every merchant at once, so what a run counted and its error text are not
/// shown here (operators read them with `jobs list`).
#[derive(Serialize, ToSchema)]
pub struct JobRunDto {
    pub job: String,
    /// The scheduled time the run is for.
    pub tick_at: DateTime<Utc>,
    /// `running`, `succeeded`, `retrying` or `failed`.
    pub status: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, IntoParams)]
pub struct RunsQuery {
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// The latest job runs, newest first.
#[utoipa::path(tag = "ops", params(RunsQuery), responses((status = 200, body = Vec<JobRunDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/jobs/runs")]
async fn list_job_runs(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    query: web::Query<RunsQuery>,
) -> ApiResult<web::Json<Vec<JobRunDto>>> {
    let page = service::domain::Page::parse(None, query.limit, 50)?;
    let runs = jobs::runs_for_staff(&ctx, &principal, page.limit).await?;
    Ok(web::Json(
        runs.into_iter()
            .map(|run| JobRunDto {
                job: run.job,
                tick_at: run.tick_at,
                status: run.status,
                attempt: run.attempt,
                started_at: run.started_at,
                finished_at: run.finished_at,
                next_attempt_at: run.next_attempt_at,
            })
            .collect(),
    ))
}

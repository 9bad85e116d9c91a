//! The technicians members can choose when they book: who works at the store, how they are introduced (title,
//! photo) and which services of the menu they do.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use entity::{service_items, staff_skills};

use super::search::open_store;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct Technician {
    pub staff_id: i64,
    pub name: String,
    pub title: String,
    pub photo_url: Option<String>,
    /// The active services they do, in menu order.
    pub service_ids: Vec<i64>,
    pub service_names: Vec<String>,
}

/// Active staff of an open store who do at least one active service, in the order they were added.
pub async fn at_store(ctx: &AppContext, me: &MemberPrincipal, store_id: i64) -> Result<Vec<Technician>> {
    let store = open_store(&ctx.db, me.merchant_id, store_id).await.map_err(|error| match error {
        Error::Invalid { .. } => Error::NotFound("store"),
        other => other,
    })?;
    let people = super::availability::working_at(&ctx.db, &store, None).await?;
    let menu: Vec<service_items::Model> = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(me.merchant_id))
        .filter(service_items::Column::Active.eq(true))
        .order_by_asc(service_items::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut skills: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for skill in staff_skills::Entity::find()
        .filter(staff_skills::Column::StaffId.is_in(people.iter().map(|p| p.id)))
        .all(&ctx.db)
        .await?
    {
        skills.entry(skill.staff_id).or_default().insert(skill.service_item_id);
    }
    Ok(people
        .into_iter()
        .filter_map(|person| {
            let theirs = skills.get(&person.id)?;
            let services: Vec<&service_items::Model> = menu.iter().filter(|s| theirs.contains(&s.id)).collect();
            if services.is_empty() {
                return None;
            }
            Some(Technician {
                staff_id: person.id,
                name: person.display_name,
                title: person.title,
                photo_url: person.photo_url,
                service_ids: services.iter().map(|s| s.id).collect(),
                service_names: services.iter().map(|s| s.name.clone()).collect(),
            })
        })
        .collect())
}

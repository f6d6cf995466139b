//! Batched loads of contact moments: a page per contact or per profile, and counts, each
//! in one statement for every parent on the response.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, DbErr, FromQueryResult, QueryResult};
use uuid::Uuid;

use entity::{channels, contact_moments as moments, contacts};

use super::store::MomentFilter;
use crate::channels::joined::{self, WithChannel};
use crate::loaders::{AppLoader, LoadError, Loaders, PagedKey, group_by_page};
use crate::pagination::PageRequest;
use crate::sql::{self, PARENT};

/// Newest first: the order of every timeline.
fn timeline_order() -> Vec<(sea_orm::sea_query::SimpleExpr, Order)> {
    vec![
        (
            Expr::col((moments::Entity, moments::Column::LastMessageAt)),
            Order::Desc,
        ),
        (
            Expr::col((moments::Entity, moments::Column::Id)),
            Order::Desc,
        ),
    ]
}

/// A moment with its channel.
pub type Joined = WithChannel<moments::Model>;

/// Join each moment's channel and select its columns.
fn with_channel(select: &mut SelectStatement) {
    select.inner_join(
        channels::Entity,
        Expr::col((channels::Entity, channels::Column::Id))
            .equals((moments::Entity, moments::Column::ChannelId)),
    );
    joined::select_channel_columns(select);
}

/// Narrow `select` to the rows after the page's cursor.
fn after_cursor(select: &mut SelectStatement, page: &PageRequest) -> Result<(), LoadError> {
    if let Some(cursor) = &page.cursor {
        let at = cursor
            .instant("after")
            .map_err(|e| Arc::new(DbErr::Custom(e.to_string())))?;
        select.and_where(sql::past_cursor(
            Expr::col((moments::Entity, moments::Column::LastMessageAt)),
            Expr::col((moments::Entity, moments::Column::Id)),
            at.into(),
            cursor.id,
            false,
        ));
    }
    Ok(())
}

/// One page of a contact's moments, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MomentsOfContact {
    /// The contact.
    pub contact_id: Uuid,
    /// The page (forward).
    pub page: PageRequest,
}

impl PagedKey for MomentsOfContact {
    fn parent(&self) -> Uuid {
        self.contact_id
    }
    fn page(&self) -> &PageRequest {
        &self.page
    }
}

impl Loader<MomentsOfContact> for AppLoader {
    type Value = Vec<Joined>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MomentsOfContact],
    ) -> Result<HashMap<MomentsOfContact, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (page, contact_ids) in group_by_page(keys) {
            let mut inner = Query::select()
                .column((moments::Entity, Asterisk))
                .expr_as(
                    Expr::col((moments::Entity, moments::Column::ContactId)),
                    PARENT,
                )
                .from(moments::Entity)
                .and_where(moments::Column::WorkspaceId.eq(self.workspace_id))
                .and_where(moments::Column::ContactId.is_in(contact_ids.clone()))
                .to_owned();
            with_channel(&mut inner);
            after_cursor(&mut inner, &page)?;
            let mut rows = sql::top_n_per_parent::<Joined, _>(
                &self.db.conn,
                inner,
                (moments::Entity, moments::Column::ContactId),
                timeline_order(),
                page.fetch(),
            )
            .await
            .map_err(Arc::new)?;
            for contact_id in contact_ids {
                out.insert(
                    MomentsOfContact {
                        contact_id,
                        page: page.clone(),
                    },
                    rows.remove(&contact_id).unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}

/// How many moments a contact has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MomentCountOfContact(pub Uuid);

impl Loader<MomentCountOfContact> for AppLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MomentCountOfContact],
    ) -> Result<HashMap<MomentCountOfContact, u64>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let counts = sql::children_per_parent(
            &self.db.conn,
            moments::Entity,
            (moments::Column::WorkspaceId, self.workspace_id),
            moments::Column::ContactId,
            ids,
        )
        .await
        .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|k| (*k, counts.get(&k.0).copied().unwrap_or(0)))
            .collect())
    }
}

/// The prefix of the contact's columns in a timeline row.
const CONTACT: &str = "ct_";

/// A row of a profile's timeline: the moment with its channel and its contact, read in
/// the same statement, and how many moments the profile has in all (under the same
/// filter). The profile page shows every moment with its contact and the total, so it
/// needs no further round for either.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// The moment and its channel.
    pub moment: Joined,
    /// The contact it is with.
    pub contact: contacts::Model,
    /// The profile's number of moments matching the filter (on a page after a cursor:
    /// from the cursor on).
    pub total: u64,
}

impl FromQueryResult for TimelineRow {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let total: i64 = res.try_get("", sql::TOTAL)?;
        Ok(TimelineRow {
            moment: Joined::from_query_result(res, pre)?,
            contact: contacts::Model::from_query_result(res, CONTACT)?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

/// One page of a profile's timeline: the moments of all its contacts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MomentsOfProfile {
    /// The profile.
    pub profile_id: Uuid,
    /// The page (forward).
    pub page: PageRequest,
    /// Status and channel filters.
    pub filter: MomentFilter,
}

/// The moments of the contacts of some profiles, with `parent` = the profile.
fn of_profiles(
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
    filter: &MomentFilter,
) -> SelectStatement {
    let mut select = Query::select()
        .from(moments::Entity)
        .inner_join(
            contacts::Entity,
            Expr::col((contacts::Entity, contacts::Column::Id))
                .equals((moments::Entity, moments::Column::ContactId)),
        )
        .and_where(Expr::col((moments::Entity, moments::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((contacts::Entity, contacts::Column::ProfileId)).is_in(profile_ids))
        .to_owned();
    filter.apply(&mut select);
    select
}

impl Loader<MomentsOfProfile> for AppLoader {
    type Value = Vec<TimelineRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MomentsOfProfile],
    ) -> Result<HashMap<MomentsOfProfile, Self::Value>, Self::Error> {
        let mut groups: HashMap<(PageRequest, MomentFilter), Vec<Uuid>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.page.clone(), key.filter.clone()))
                .or_default()
                .push(key.profile_id);
        }
        let mut out = HashMap::new();
        for ((page, filter), profile_ids) in groups {
            let mut inner = of_profiles(self.workspace_id, profile_ids.clone(), &filter);
            inner.column((moments::Entity, Asterisk)).expr_as(
                Expr::col((contacts::Entity, contacts::Column::ProfileId)),
                PARENT,
            );
            with_channel(&mut inner);
            sql::select_prefixed(&mut inner, contacts::Entity, CONTACT);
            // The total of a first page; after a cursor it counts only what is left, and
            // `of_profile` doesn't use it.
            sql::count_per_parent_as_total(
                &mut inner,
                (contacts::Entity, contacts::Column::ProfileId),
            );
            after_cursor(&mut inner, &page)?;
            let mut rows = sql::top_n_per_parent::<TimelineRow, _>(
                &self.db.conn,
                inner,
                (contacts::Entity, contacts::Column::ProfileId),
                timeline_order(),
                page.fetch(),
            )
            .await
            .map_err(Arc::new)?;
            for profile_id in profile_ids {
                out.insert(
                    MomentsOfProfile {
                        profile_id,
                        page: page.clone(),
                        filter: filter.clone(),
                    },
                    rows.remove(&profile_id).unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}

/// How many moments (matching a filter) a profile's contacts have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MomentCountOfProfile {
    /// The profile.
    pub profile_id: Uuid,
    /// Status and channel filters.
    pub filter: MomentFilter,
}

impl Loader<MomentCountOfProfile> for AppLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MomentCountOfProfile],
    ) -> Result<HashMap<MomentCountOfProfile, u64>, Self::Error> {
        let mut groups: HashMap<MomentFilter, Vec<Uuid>> = HashMap::new();
        for key in keys {
            groups
                .entry(key.filter.clone())
                .or_default()
                .push(key.profile_id);
        }
        let mut out = HashMap::new();
        for (filter, profile_ids) in groups {
            let (count, n) = sql::count_star();
            let mut select = of_profiles(self.workspace_id, profile_ids.clone(), &filter);
            select
                .expr_as(
                    Expr::col((contacts::Entity, contacts::Column::ProfileId)),
                    PARENT,
                )
                .expr_as(count, n)
                .group_by_col((contacts::Entity, contacts::Column::ProfileId));
            let counts = sql::counts_per_parent(&self.db.conn, &select)
                .await
                .map_err(Arc::new)?;
            for profile_id in profile_ids {
                out.insert(
                    MomentCountOfProfile {
                        profile_id,
                        filter: filter.clone(),
                    },
                    counts.get(&profile_id).copied().unwrap_or(0),
                );
            }
        }
        Ok(out)
    }
}

/// Forget cached moments.
pub fn invalidate(loaders: &Loaders) {
    loaders.clear::<MomentsOfContact>();
    loaders.clear::<MomentCountOfContact>();
    loaders.clear::<MomentsOfProfile>();
    loaders.clear::<MomentCountOfProfile>();
}

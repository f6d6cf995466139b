//! Batched loads of contact moments: by id, a page per contact or per profile, and
//! counts, each in one statement for every parent on the response.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use profilegraph_store::moments::{self, Joined, MomentFilter, TimelineRow};
use profilegraph_store::page::PageRequest;
use uuid::Uuid;

use crate::loaders::{AppLoader, LoadError, PagedKey, by_parent, group_by_page, group_parents};

crate::by_id!(
    /// A contact moment by id.
    MomentId => moments, contact_moments
);

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
        crate::metrics::loader_batch("MomentsOfContact", keys.len());
        let mut out = HashMap::new();
        for (page, contact_ids) in group_by_page(keys) {
            let found =
                moments::pages_of_contacts(&self.db, self.workspace_id, &page, contact_ids.clone())
                    .await?;
            let keys = contact_ids.into_iter().map(|contact_id| MomentsOfContact {
                contact_id,
                page: page.clone(),
            });
            out.extend(by_parent(keys, |k| k.contact_id, &found));
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
        crate::metrics::loader_batch("MomentCountOfContact", keys.len());
        let ids = keys.iter().map(|k| k.0).collect();
        let counts = moments::counts_of_contacts(&self.db, self.workspace_id, ids).await?;
        Ok(by_parent(keys.iter().copied(), |k| k.0, &counts))
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

impl Loader<MomentsOfProfile> for AppLoader {
    type Value = Vec<TimelineRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MomentsOfProfile],
    ) -> Result<HashMap<MomentsOfProfile, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("MomentsOfProfile", keys.len());
        let groups = group_parents(
            keys,
            |k| (k.page.clone(), k.filter.clone()),
            |k| k.profile_id,
        );
        let mut out = HashMap::new();
        for ((page, filter), profile_ids) in groups {
            let found = moments::pages_of_profiles(
                &self.db,
                self.workspace_id,
                &page,
                &filter,
                profile_ids.clone(),
            )
            .await?;
            let keys = profile_ids.into_iter().map(|profile_id| MomentsOfProfile {
                profile_id,
                page: page.clone(),
                filter: filter.clone(),
            });
            out.extend(by_parent(keys, |k| k.profile_id, &found));
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
        crate::metrics::loader_batch("MomentCountOfProfile", keys.len());
        let groups = group_parents(keys, |k| k.filter.clone(), |k| k.profile_id);
        let mut out = HashMap::new();
        for (filter, profile_ids) in groups {
            let counts = moments::counts_of_profiles(
                &self.db,
                self.workspace_id,
                &filter,
                profile_ids.clone(),
            )
            .await?;
            let keys = profile_ids
                .into_iter()
                .map(|profile_id| MomentCountOfProfile {
                    profile_id,
                    filter: filter.clone(),
                });
            out.extend(by_parent(keys, |k| k.profile_id, &counts));
        }
        Ok(out)
    }
}

//! Merging two profiles of the same person: `mergeProfiles`, with a dry run that shows
//! exactly what the merge would do. The rules are the store's
//! (`profilegraph_store::merge`).

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use serde_json::Value;

use profilegraph_store::merge::{self as store, Keep, MergeRequest};
use profilegraph_store::text::check_list_len;

use crate::auth::{self, Scope};
use crate::contacts::Contact;
use crate::error::{Error, Result};
use crate::fields::CustomField;
use crate::ids::{self, NodeKind};
use crate::profiles::Profile;

/// Which profile's value a merge keeps for a field both profiles have.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "profilegraph_store::merge::Keep")]
pub enum MergeKeep {
    /// The survivor's value (the default).
    Survivor,
    /// The merged profile's value.
    Merged,
}

/// The value to keep for one field both profiles have.
#[derive(InputObject)]
pub struct MergeFieldChoice {
    /// The custom field.
    pub field_id: ID,
    /// Whose value stays.
    pub keep: MergeKeep,
}

/// The versions of the two profiles the caller last read. A profile that has changed
/// since refuses the merge with CONFLICT, and nothing is written.
#[derive(InputObject, Default)]
pub struct MergeExpectedVersions {
    /// The survivor's `version`.
    pub survivor: Option<i32>,
    /// The merged profile's `version`.
    pub merged: Option<i32>,
}

/// Two profiles of the same person to merge into one.
#[derive(InputObject)]
pub struct MergeProfilesInput {
    /// The profile that stays (the survivor).
    pub survivor_id: ID,
    /// The profile that goes into the survivor and is gone afterwards; its id keeps
    /// answering `profile(id:)` and `node(id:)` with the survivor.
    pub merged_id: ID,
    /// Only show what the merge would do, and write nothing. The same input without it
    /// does what the preview showed (unless either profile changes in between: pass
    /// `expectedVersions` to be sure).
    #[graphql(default = false)]
    pub dry_run: bool,
    /// For fields both profiles have a different value for: which value stays. A field
    /// not named keeps the survivor's value. At most 250.
    #[graphql(default)]
    pub field_choices: Vec<MergeFieldChoice>,
    /// The versions last read, checked before anything is written.
    pub expected_versions: Option<MergeExpectedVersions>,
}

/// A field both profiles had a different value for.
#[derive(SimpleObject)]
pub struct MergeFieldConflict {
    /// The field.
    pub field: CustomField,
    /// The survivor's value.
    pub survivor_value: Json<Value>,
    /// The merged profile's value.
    pub merged_value: Json<Value>,
    /// Whose value the survivor has after the merge.
    pub kept: MergeKeep,
}

/// What a merge did, or in a dry run would do.
#[derive(SimpleObject)]
pub struct MergeProfilesPayload {
    /// The survivor as it is after the merge. In a dry run: as the merge would leave
    /// it (its `version`, `contacts`, `contactsByChannel`, `fields` and `mergedIds`); its
    /// `notes`, `history` and `contactMoments` read as they are now (`movedNoteCount`
    /// says how many notes would join).
    pub profile: Profile,
    /// Whether this was only a preview (nothing was written).
    pub dry_run: bool,
    /// The contacts that moved (or would move) from the merged profile, oldest first.
    pub moved_contacts: Vec<Contact>,
    /// How many notes moved (or would move); they keep their authors and times.
    pub moved_note_count: i32,
    /// Every field both profiles had a different value for, and whose value stays.
    pub field_conflicts: Vec<MergeFieldConflict>,
}

/// The merge mutation.
#[derive(Default)]
pub struct MergeMutation;

#[Object]
impl MergeMutation {
    /// Merge two profiles of the same person into one, the survivor, in one
    /// transaction: the merged profile's contacts and notes move to the survivor, its
    /// field values fill the survivor's gaps (a value both have follows `fieldChoices`,
    /// the survivor's by default), its history becomes the survivor's, and it is gone.
    /// Its id keeps answering with the survivor. The survivor's version goes up by one,
    /// and its history gets a PROFILES_MERGED event. With `dryRun`, nothing is written
    /// and the payload shows exactly what the merge would do. Refused: a profile merged
    /// into itself (BAD_USER_INPUT), a profile that doesn't exist in this workspace
    /// (NOT_FOUND), a stale `expectedVersions` (CONFLICT), a token without `write`
    /// (FORBIDDEN).
    async fn merge_profiles(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The two profiles, the choices for conflicting fields, and whether to only preview."
        )]
        input: MergeProfilesInput,
    ) -> Result<MergeProfilesPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let survivor_id =
            ids::decode_as(NodeKind::Profile, &input.survivor_id, "input.survivorId")?;
        let merged_id = ids::decode_as(NodeKind::Profile, &input.merged_id, "input.mergedId")?;
        check_list_len(&input.field_choices, "input.fieldChoices")?;
        let mut seen = HashSet::new();
        let mut field_choices = Vec::with_capacity(input.field_choices.len());
        for choice in &input.field_choices {
            let field_id = ids::decode_as(
                NodeKind::CustomField,
                &choice.field_id,
                "input.fieldChoices",
            )?;
            if !seen.insert(field_id) {
                return Err(Error::bad_input(
                    "input.fieldChoices",
                    "a field is listed twice; give each field one choice",
                ));
            }
            field_choices.push((field_id, Keep::from(choice.keep)));
        }
        let expected = input.expected_versions.unwrap_or_default();
        let merged = store::merge(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            MergeRequest {
                survivor_id,
                merged_id,
                dry_run: input.dry_run,
                field_choices,
                expected_survivor: expected.survivor,
                expected_merged: expected.merged,
            },
        )
        .await?;
        if !merged.dry_run {
            crate::context::wrote(ctx)?;
        }
        Ok(MergeProfilesPayload {
            profile: Profile(merged.profile, merged.preview.map(Arc::new)),
            dry_run: merged.dry_run,
            moved_contacts: merged.moved_contacts.into_iter().map(Contact).collect(),
            moved_note_count: i32::try_from(merged.moved_note_count).unwrap_or(i32::MAX),
            field_conflicts: merged
                .field_conflicts
                .into_iter()
                .map(|c| MergeFieldConflict {
                    field: CustomField(c.field),
                    survivor_value: Json(c.survivor_value),
                    merged_value: Json(c.merged_value),
                    kept: c.kept.into(),
                })
                .collect(),
        })
    }
}

//! Suggestions: the profiles a contact most likely belongs to (the ticket sidebar), and
//! the profiles that are likely the same person as another (before a merge). The
//! matching is the store's (`profilegraph_store::suggestions`).

use async_graphql::{Context, Enum, SimpleObject};

use profilegraph_store::suggestions::{self as store, MAX_SUGGESTIONS, Suggestion};

use crate::auth::{self, Scope};
use crate::error::{Error, Result};
use crate::profiles::Profile;

/// Why a profile is suggested.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "profilegraph_store::suggestions::Reason")]
pub enum ProfileSuggestionReason {
    /// A contact of the profile has the same normalised e-mail address on another
    /// channel (e.g. the e-mail channel and the website chat).
    SameEmail,
    /// A contact of the profile has the same phone number (E.164) on another channel
    /// (WhatsApp, SMS, voice, …).
    SamePhone,
    /// The names are alike: case, accents, punctuation, the order of the words and small
    /// typos don't hide a match ("Bakker, Peter" and "Peter Bakker").
    SimilarName,
}

/// A profile that is likely the one looked for, how likely, and why.
#[derive(SimpleObject)]
pub struct ProfileSuggestion {
    /// The suggested profile.
    pub profile: Profile,
    /// How likely it is the one, from 0 to 1: the same e-mail address scores 0.95, the
    /// same phone number 0.9, a similar name 0.5 to 0.85 by how alike it is, and several
    /// reasons together more.
    pub score: f64,
    /// Why it is suggested, at least one reason.
    pub reasons: Vec<ProfileSuggestionReason>,
}

impl From<Suggestion> for ProfileSuggestion {
    fn from(s: Suggestion) -> Self {
        ProfileSuggestion {
            profile: Profile::from(s.profile),
            score: s.score,
            reasons: s.reasons.into_iter().map(Into::into).collect(),
        }
    }
}

/// Check a `first` argument of a suggestions field: 1 to 20.
fn parse_first(first: i32) -> Result<usize> {
    match usize::try_from(first) {
        Ok(n) if (1..=MAX_SUGGESTIONS).contains(&n) => Ok(n),
        _ => Err(Error::bad_input(
            "first",
            format!("`first` must be between 1 and {MAX_SUGGESTIONS}"),
        )),
    }
}

/// The profiles `contact` most likely belongs to.
pub async fn for_contact(
    ctx: &Context<'_>,
    contact: &entity::contacts::Model,
    first: i32,
) -> Result<Vec<ProfileSuggestion>> {
    let viewer = auth::viewer_with(ctx, Scope::Read)?;
    let first = parse_first(first)?;
    let db = crate::context::db(ctx)?;
    let found = store::for_contact(db, viewer.workspace_id, contact, first).await?;
    Ok(found.into_iter().map(Into::into).collect())
}

/// Other profiles that are likely the same person as `profile`.
pub async fn duplicates_of(
    ctx: &Context<'_>,
    profile: &entity::profiles::Model,
    first: i32,
) -> Result<Vec<ProfileSuggestion>> {
    let viewer = auth::viewer_with(ctx, Scope::Read)?;
    let first = parse_first(first)?;
    let db = crate::context::db(ctx)?;
    let found = store::duplicates_of(db, viewer.workspace_id, profile, first).await?;
    Ok(found.into_iter().map(Into::into).collect())
}

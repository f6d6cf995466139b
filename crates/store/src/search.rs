//! Search folding: what the search columns (`profiles.search_name`, `contacts.search_text`)
//! store and how a search term is matched against them. Written once, here: every write
//! of those columns and every search goes through these functions, so stored text and
//! search terms are always folded the same way.

use sea_orm::sea_query::{ExprTrait, LikeExpr, SimpleExpr};

use crate::text::SearchTerm;

/// Text as the search columns store it: Unicode lower case, so matching ignores case for
/// every script (SQLite's own `LOWER()` only folds A–Z).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// What `profiles.search_name` holds for a profile called `name`.
pub fn profile_name(name: &str) -> String {
    fold(name)
}

/// What `contacts.search_text` holds: the identifier and display name, folded, one per
/// line.
pub fn contact_text(identifier: &str, display_name: &str) -> String {
    format!("{}\n{}", fold(identifier), fold(display_name))
}

/// A case-insensitive "contains" pattern for LIKE, with `%`, `_` and `\` escaped.
pub fn contains_pattern(term: &SearchTerm) -> String {
    let needle = term.as_str();
    let mut escaped = String::with_capacity(needle.len() + 2);
    escaped.push('%');
    for c in fold(needle).chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// `column LIKE pattern ESCAPE '\'`, for a folded column and a [`contains_pattern`].
pub fn like(column: SimpleExpr, pattern: &str) -> SimpleExpr {
    column.like(LikeExpr::new(pattern).escape('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_fold_and_escape() {
        let term = SearchTerm::parse("Pé%_\\TER", "search").unwrap();
        assert_eq!(contains_pattern(&term), "%pé\\%\\_\\\\ter%");
        assert_eq!(contact_text("+31 6", "ÉMILE"), "+31 6\némile");
    }
}

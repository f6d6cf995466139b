//! Token scopes: `read`, `write` and `admin`, each including the ones before it.

use std::fmt;
use std::str::FromStr;

/// One permission a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Run queries.
    Read,
    /// Also change profiles, contacts, notes and contact moments.
    Write,
    /// Also manage channels and custom fields.
    Admin,
}

impl Scope {
    /// The scope's name as tokens store it and the CLI takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope `{other}` (expected read, write or admin)"
            )),
        }
    }
}

/// The set of scopes of one token, parsed from its comma-separated form (`read,write`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Whether these scopes permit `wanted`. A higher scope includes the lower ones: a
    /// `write` token may read, an `admin` token may write.
    pub fn allows(&self, wanted: Scope) -> bool {
        self.0.iter().any(|have| *have >= wanted)
    }

    /// The scopes, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromStr for Scopes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut scopes = s
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err("at least one scope is required (read, write, admin)".into());
        }
        scopes.sort();
        scopes.dedup();
        Ok(Scopes(scopes))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_scopes_include_lower_ones() {
        let write: Scopes = "write".parse().unwrap();
        assert!(write.allows(Scope::Read));
        assert!(write.allows(Scope::Write));
        assert!(!write.allows(Scope::Admin));
        let read: Scopes = "read".parse().unwrap();
        assert!(!read.allows(Scope::Write));
    }

    #[test]
    fn parses_normalises_and_refuses() {
        let scopes: Scopes = " write,read,write ".parse().unwrap();
        assert_eq!(scopes.to_string(), "read,write");
        assert!("".parse::<Scopes>().is_err());
        assert!("read,root".parse::<Scopes>().is_err());
    }
}

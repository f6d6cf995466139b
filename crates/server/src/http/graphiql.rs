//! GraphiQL, served by the server itself: the page on `GET /graphql` (for a browser, when
//! GraphiQL is on) and its assets under `/graphiql/`, embedded in the binary. The page
//! loads nothing from any other host (its Content-Security-Policy says so to the
//! browser), so it works offline and no third-party script runs where people paste
//! tokens.
//!
//! The third-party files are pinned releases from the npm registry, checked in under
//! `assets/graphiql/vendor/` by `assets/graphiql/fetch.sh`; their paths carry their
//! versions, so browsers may cache them for good.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The page, with `{{CONFIG}}` for its settings.
const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// The operation a new GraphiQL tab shows: the workspace's profiles and their contacts.
pub const DEFAULT_QUERY: &str = "# profilegraph: customer profiles of an omnichannel inbox.
# A profile is a person; a contact is one channel identity.
# Run with the ▶ button or Ctrl-Enter. The token goes in the
# headers tab: { \"Authorization\": \"Bearer <token>\" }
query ProfileList {
  profiles(first: 10) {
    totalCount
    nodes {
      id
      name
      contacts {
        displayName
        identifier
        channel {
          name
        }
      }
    }
  }
}
";

/// What the page's scripts may load and connect to: this server only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its path under `/graphiql/`, media type, and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    /// Its name carries a version: cache it for good.
    immutable: bool,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "react-18.3.1.min.js",
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        bytes: include_bytes!("../../assets/graphiql/vendor/react.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.min.js",
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        bytes: include_bytes!("../../assets/graphiql/vendor/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql-4.1.2.min.js",
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        bytes: include_bytes!("../../assets/graphiql/vendor/graphiql.min.js"),
    },
    Asset {
        name: "graphiql-4.1.2.min.css",
        content_type: "text/css; charset=utf-8",
        immutable: true,
        bytes: include_bytes!("../../assets/graphiql/vendor/graphiql.min.css"),
    },
    Asset {
        name: "boot.js",
        content_type: "text/javascript; charset=utf-8",
        immutable: false,
        bytes: include_bytes!("../../assets/graphiql/boot.js"),
    },
];

/// The GraphiQL page; its headers tab holds `headers` (the demo token's, on a fresh
/// development start on loopback) or is empty.
pub fn page(headers: Option<&str>) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html(headers),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // The page may hold a token: never stored, never sent on as a referrer.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The page's HTML, its settings in a JSON block.
fn html(headers: Option<&str>) -> String {
    let config = serde_json::json!({
        "endpoint": "/graphql",
        "query": DEFAULT_QUERY,
        "headers": headers,
    });
    // In a <script> block, `<` must not open a tag: JSON allows it escaped.
    let config = config.to_string().replace('<', "\\u003c");
    PAGE.replace("{{CONFIG}}", &config)
}

/// The headers tab's text for `token`.
pub fn bearer_headers(token: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Authorization": format!("Bearer {token}"),
    }))
    .unwrap_or_default()
}

/// `GET /graphiql/{file}`: one embedded asset, or 404.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_assets_that_exist_and_no_other_host() {
        for src in PAGE
            .split("src=\"")
            .skip(1)
            .chain(PAGE.split("href=\"").skip(1))
        {
            let path = &src[..src.find('"').unwrap()];
            if path == "data:," {
                continue;
            }
            let name = path
                .strip_prefix("/graphiql/")
                .unwrap_or_else(|| panic!("{path} is not one of the server's own paths"));
            assert!(ASSETS.iter().any(|a| a.name == name), "{name} is embedded");
        }
        assert!(!PAGE.contains("//unpkg") && !PAGE.contains("https://"));
    }

    #[test]
    fn the_config_block_cannot_close_its_script() {
        let evil = "</script><script>alert(1)</script>";
        let html = html(Some(evil));
        assert!(!html.contains("<script>alert"), "{html}");
        let block = html.split("type=\"application/json\">").nth(1).unwrap();
        let json = &block[..block.find("</script>").unwrap()];
        let config: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(config["headers"], evil);
        assert_eq!(config["query"], DEFAULT_QUERY);
    }
}

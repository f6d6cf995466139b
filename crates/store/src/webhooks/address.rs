//! Where webhooks may go: the rules that keep a tenant from pointing the server at its own
//! network (SSRF).
//!
//! An endpoint's URL must be `https`, and its host must not be, nor resolve to, a
//! loopback, private, link-local (where cloud metadata lives, 169.254.169.254),
//! unique-local, unspecified, multicast or otherwise special address, in any spelling
//! (IPv4-mapped IPv6 included). The check runs when the URL is registered and again on
//! every attempt, and the attempt connects only to the addresses that passed
//! ([`resolve`]): a name that resolved to a public address at registration and to
//! 127.0.0.1 later (DNS rebinding) is refused then. `allow_private` (the server's
//! `--webhook-allow-private`, for development and tests) lifts the address rules and
//! allows `http`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::error::{Result, StoreError};

/// The longest URL an endpoint may have.
pub const MAX_URL: usize = 2000;

/// Whether `ip` may receive webhooks: a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()       // 0.0.0.0
        || a == 0               // 0/8, "this network"
        || ip.is_loopback()     // 127/8
        || ip.is_private()      // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()   // 169.254/16, with 169.254.169.254
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)       // 192.0.0/24, protocol assignments
        || (a == 192 && b == 0 && c == 2)       // documentation
        || (a == 198 && (b == 18 || b == 19))   // 198.18/15, benchmarking
        || (a == 198 && b == 51 && c == 100)    // documentation
        || (a == 203 && b == 0 && c == 113)     // documentation
        || ip.is_multicast()    // 224/4
        || a >= 240) // 240/4 reserved, and the broadcast address
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address written as IPv6 is judged as the IPv4 address it is.
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()                 // ::
        || ip.is_loopback()               // ::1
        || (first & 0xfe00) == 0xfc00     // fc00::/7, unique local (fd00:ec2::254 too)
        || (first & 0xffc0) == 0xfe80     // fe80::/10, link-local
        || (first & 0xffc0) == 0xfec0     // fec0::/10, the old site-local
        || (first & 0xff00) == 0xff00     // ff00::/8, multicast
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0100) // 100::/64, discard
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail());
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail());
    }
    None
}

/// Why an address or URL is refused, in words for the person registering it.
fn refused(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::bad_input(field, message)
}

/// Parse and check an endpoint's URL (without resolving its host): the scheme, and a
/// host that is an address must be public, and a name must not be `localhost`.
pub fn parse(raw: &str, allow_private: bool, field: &str) -> Result<Url> {
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return Err(refused(
            field,
            format!("the URL is longer than {MAX_URL} characters"),
        ));
    }
    let url = Url::parse(raw).map_err(|e| refused(field, format!("`{raw}` is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(refused(field, "the URL must start with https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            field,
            "the URL must not carry a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(refused(field, "the URL must not have a #fragment"));
    }
    match url.host() {
        None => return Err(refused(field, "the URL has no host")),
        Some(_) if allow_private => {}
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), field)?,
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), field)?,
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(refused(field, "the URL's host is this machine (localhost)"));
            }
        }
    }
    Ok(url)
}

fn check_ip(ip: IpAddr, field: &str) -> Result<()> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(refused(
            field,
            format!("the URL's host {ip} is a loopback, private, link-local or reserved address"),
        ))
    }
}

/// The addresses `url`'s host resolves to, all of them public (unless `allow_private`):
/// what an attempt may connect to. A name with any address that is not public is refused
/// whole, so a resolver can't slip one in among good ones.
pub async fn resolve(url: &Url, allow_private: bool, field: &str) -> Result<Vec<SocketAddr>> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        None => return Err(refused(field, "the URL has no host")),
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| {
                refused(
                    field,
                    format!("the URL's host `{name}` does not resolve: {e}"),
                )
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(refused(field, "the URL's host has no address"));
    }
    if !allow_private {
        for addr in &addrs {
            check_ip(addr.ip(), field)?;
        }
    }
    Ok(addrs)
}

/// [`parse`] and [`resolve`]: the whole check of a URL being registered.
pub async fn check(raw: &str, allow_private: bool, field: &str) -> Result<Url> {
    let url = parse(raw, allow_private, field)?;
    resolve(&url, allow_private, field).await?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::7f00:1",
            "ff02::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_need_https_and_a_public_host() {
        for raw in [
            "http://example.com/hook",
            "ftp://example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/",
            "https://localhost/",
            "https://api.localhost./",
            "https://user:pw@example.com/",
            "https://0x7f000001/",
            "https://2130706433/",
            "not a url",
        ] {
            assert!(
                parse(raw, false, "input.url").is_err(),
                "{raw} must be refused"
            );
        }
        assert!(parse("https://example.com/hook?x=1", false, "input.url").is_ok());
        assert!(parse("http://127.0.0.1:9000/hook", true, "input.url").is_ok());
    }
}

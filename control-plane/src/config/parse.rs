//! Parsers for the structured strings of the config file: provider base URLs and
//! durations. Hand-written because both grammars are tiny and a URL crate would accept
//! far more (userinfo, queries, IDNs) than a provider endpoint may contain.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// A provider endpoint: `http(s)://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub tls: bool,
    pub host: Host,
    /// The port as written; `None` means the scheme's default.
    pub explicit_port: Option<u16>,
    /// Path prefix without trailing slash; empty when the URL has none.
    pub path: String,
}

/// Where a provider lives. IP hosts become STATIC clusters, names STRICT_DNS ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A DNS name, lower-cased.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("expected http:// or https://")]
    Scheme,
    #[error("it has no host")]
    NoHost,
    #[error("{0:?} is not a valid host name or IP address")]
    BadHost(String),
    #[error("{0:?} is not a port between 1 and 65535")]
    BadPort(String),
    #[error("user names and passwords do not belong in base_url; use `credential`")]
    UserInfo,
    #[error("query strings and fragments are not supported")]
    QueryOrFragment,
    #[error("it contains whitespace or control characters")]
    Whitespace,
}

impl BaseUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Whitespace);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::Scheme)?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(UrlError::Scheme),
        };
        if rest.contains(['?', '#']) {
            return Err(UrlError::QueryOrFragment);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let explicit_port = port
            .map(|p| match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(UrlError::BadPort(p.to_string())),
            })
            .transpose()?;
        Ok(BaseUrl {
            tls,
            host,
            explicit_port,
            path: path.trim_end_matches('/').to_string(),
        })
    }

    fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.explicit_port.unwrap_or(self.default_port())
    }

    /// `host[:port]` for the `:authority` header; the port only when it is not the
    /// scheme's default, as clients write it.
    pub fn authority(&self) -> String {
        let host = match &self.host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        match self.explicit_port {
            Some(port) if port != self.default_port() => format!("{host}:{port}"),
            _ => host,
        }
    }
}

fn split_host_port(authority: &str) -> Result<(Host, Option<&str>), UrlError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or_else(|| UrlError::BadHost(authority.to_string()))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| UrlError::BadHost(authority.to_string()))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| UrlError::BadHost(authority.to_string()))?,
            ),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), port));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.len() > 253 || !host.split('.').all(valid_label) {
        return Err(UrlError::BadHost(host.to_string()));
    }
    Ok((Host::Name(host.to_ascii_lowercase()), port))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("expected a whole number with a unit: ms, s, m or h (e.g. 600s, 10m)")]
    Format,
    #[error("it is too long")]
    Overflow,
}

/// Parses `<digits><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError::Format)?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(DurationError::Format);
    }
    let n: u64 = digits.parse().map_err(|_| DurationError::Overflow)?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(DurationError::Format),
    };
    let millis = n
        .checked_mul(millis_per_unit)
        .ok_or(DurationError::Overflow)?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = BaseUrl::parse("https://API.openai.com/v1/").unwrap();
        assert!(url.tls);
        assert_eq!(url.host, Host::Name("api.openai.com".into()));
        assert_eq!(
            (url.port(), url.authority()),
            (443, "api.openai.com".into())
        );
        assert_eq!(url.path, "/v1");

        let url = BaseUrl::parse("http://127.0.0.1:9010").unwrap();
        assert_eq!(url.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(
            (url.port(), url.authority()),
            (9010, "127.0.0.1:9010".into())
        );
        assert_eq!(url.path, "");

        let url = BaseUrl::parse("https://[::1]:443/api").unwrap();
        assert_eq!((url.port(), url.authority()), (443, "[::1]".into()));
        let url = BaseUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(url.authority(), "[::1]:8080");
    }

    #[test]
    fn rejects_bad_urls() {
        let cases = [
            ("api.openai.com/v1", UrlError::Scheme),
            ("ftp://x", UrlError::Scheme),
            ("https:///v1", UrlError::NoHost),
            ("https://a_b.com", UrlError::BadHost("a_b.com".into())),
            ("https://x:0", UrlError::BadPort("0".into())),
            ("https://x:99999", UrlError::BadPort("99999".into())),
            ("https://u:p@x", UrlError::UserInfo),
            ("https://x/v1?k=1", UrlError::QueryOrFragment),
            ("https://x /v1", UrlError::Whitespace),
            ("https://[::1", UrlError::BadHost("[::1".into())),
        ];
        for (text, err) in cases {
            assert_eq!(BaseUrl::parse(text), Err(err), "{text}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("600s"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["600", "s", "1.5s", "10 s", "-1s", "5d", ""] {
            assert_eq!(parse_duration(bad), Err(DurationError::Format), "{bad}");
        }
        assert_eq!(
            parse_duration("99999999999999999999s"),
            Err(DurationError::Overflow)
        );
    }
}

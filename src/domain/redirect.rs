//! Where users may be sent back to. A `redirectTo` must match the client URL or one of the allowed
//! redirect URLs, with nhost's rules: each entry is a glob (`*` within one
//! path segment or host label, `**` across them) that also covers its sub-paths, an entry without a port
//! also matches the scheme's default port written out, and the candidate's query and fragment are ignored.
//! Anything else is refused with `redirectTo-not-allowed`; nothing unchecked ever lands in a `Location`.
use url::Url;

use crate::error::AuthError;

#[derive(Debug, Clone)]
pub struct RedirectPolicy {
    patterns: Vec<String>,
    /// Where to go when no redirectTo is given (the client URL), if configured.
    pub default: Option<String>,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

/// Matches `text` against `pattern`, where `*` matches within a segment (no `.` or `/`) and `**` matches
/// anything.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob_match(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let mut i = 0;
            loop {
                if glob_match(rest, &text[i..]) {
                    return true;
                }
                if i == text.len() || text[i] == b'.' || text[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        [first, rest @ ..] => text.first() == Some(first) && glob_match(rest, &text[1..]),
    }
}

/// Turns one configured entry into the globs it stands for.
fn patterns_for(entry: &str) -> Vec<String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Vec::new();
    }
    let base = if let Some(stripped) = entry.strip_suffix("/**") {
        stripped.to_string()
    } else if let Some(stripped) = entry.strip_suffix("/*") {
        stripped.to_string()
    } else {
        entry.trim_end_matches('/').to_string()
    };
    let mut bases = vec![base.clone()];
    // Without an explicit port, also accept the default port written out (http://a ≡ http://a:80).
    if let Some((scheme, rest)) = base.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if !authority.contains(':')
            && let Some(port) = default_port(scheme)
        {
            bases.push(format!("{scheme}://{authority}:{port}{path}"));
        }
    }
    bases.into_iter().flat_map(|base| [base.clone(), format!("{base}/**")]).collect()
}

impl RedirectPolicy {
    pub fn new(client_url: Option<&Url>, allowed: &[String]) -> Self {
        let client = client_url.map(|url| url.as_str().trim_end_matches('/').to_string());
        let mut patterns: Vec<String> = client.iter().flat_map(|c| patterns_for(c)).collect();
        patterns.extend(allowed.iter().flat_map(|entry| patterns_for(entry)));
        RedirectPolicy { patterns, default: client }
    }

    /// The redirect target to use: the given one if allowed, else the client URL (empty when none is
    /// configured) when none was given.
    pub fn resolve(&self, redirect_to: Option<&str>) -> Result<String, AuthError> {
        match redirect_to.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(self.default.clone().unwrap_or_default()),
            // Returned as given (links echo it); every `Location` is built from the parsed URL, the form
            // that was checked.
            Some(candidate) if self.allows(candidate) => Ok(candidate.to_string()),
            Some(_) => Err(AuthError::RedirectToNotAllowed),
        }
    }

    pub fn allows(&self, candidate: &str) -> bool {
        self.allowed_url(candidate).is_some()
    }

    /// Matches the URL as a browser will read it (scheme, host, port, path), never the raw text: escapes
    /// and backslashes in the authority must not let one host pass for another.
    fn allowed_url(&self, candidate: &str) -> Option<Url> {
        // Control characters never belong in a URL a browser is sent to (nor can Postgres store a NUL).
        if candidate.chars().any(char::is_control) {
            return None;
        }
        let url = Url::parse(candidate).ok()?;
        if url.cannot_be_a_base() || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = url.host_str().unwrap_or_default();
        let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
        let bare = format!("{}://{host}{port}{}", url.scheme(), url.path());
        let with_slash = format!("{}/", bare.trim_end_matches('/'));
        let bare = bare.trim_end_matches('/');
        self.patterns
            .iter()
            .any(|p| glob_match(p.as_bytes(), bare.as_bytes()) || glob_match(p.as_bytes(), with_slash.as_bytes()))
            .then_some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(client: &str, allowed: &[&str]) -> RedirectPolicy {
        let client = Url::parse(client).ok();
        RedirectPolicy::new(client.as_ref(), &allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_client_url_and_its_sub_paths_are_allowed() {
        let p = policy("https://app.example.com", &[]);
        for ok in [
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/verified?x=1#top",
            "https://app.example.com/a/b/c",
            "https://app.example.com:443/welcome",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "https://app.example.com.evil.com/",
            "https://evil.com/https://app.example.com",
            "http://app.example.com/",
            "https://app.example.comx/",
            "https://user@evil.com",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn glob_entries_match_one_label_with_a_star() {
        let p = policy("http://localhost:3000", &["https://*.example.org", "myapp://callback"]);
        assert!(p.allows("https://preview-1.example.org/path"));
        assert!(!p.allows("https://a.b.example.org/"));
        assert!(p.allows("myapp://callback"));
        // Escapes and backslashes cannot smuggle another host past a glob.
        for smuggled in [
            "https://attacker%2Ecom\\.example.org",
            "https://attacker.com\\.example.org",
            "https://attacker.com%2F.example.org",
            "https://x@attacker.com/.example.org",
        ] {
            assert!(!p.allows(smuggled), "{smuggled}");
        }
        assert!(p.allows("http://localhost:3000/x"));
        assert!(!p.allows("http://localhost:3001/x"));
    }

    #[test]
    fn a_missing_redirect_falls_back_to_the_client_url() {
        let p = policy("https://app.example.com/", &[]);
        assert_eq!(p.resolve(None).ok().as_deref(), Some("https://app.example.com"));
        assert_eq!(
            p.resolve(Some("https://app.example.com/a?b=1")).ok().as_deref(),
            Some("https://app.example.com/a?b=1")
        );
        assert!(matches!(p.resolve(Some("https://evil.com")), Err(AuthError::RedirectToNotAllowed)));
    }
}

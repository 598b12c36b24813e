//! Email templates in nhost's layout, `{locale}/{template}/{subject.txt, body.html}`: read once from
//! the configured templates folder, file by file over the built-in English and French texts (the
//! `email-templates/` folder of this repository, embedded in the binary). Rendering replaces `${name}` with the
//! HTML-escaped value in the body and the raw, single-line value in the subject.
use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;

use super::{Template, TemplateVariables};

/// The locale used when a message's locale has no template.
pub const FALLBACK_LOCALE: &str = "en";

/// Embeds the texts of `email-templates/<locale>/<folder>/` as `(locale, template, subject, body)`.
macro_rules! built_in {
    ($(($locale:literal, $template:expr, $folder:literal)),* $(,)?) => {
        &[$((
            $locale,
            $template,
            include_str!(concat!("../../email-templates/", $locale, "/", $folder, "/subject.txt")),
            include_str!(concat!("../../email-templates/", $locale, "/", $folder, "/body.html")),
        )),*]
    };
}

/// The built-in texts.
const BUILT_IN: &[(&str, Template, &str, &str)] = built_in![
    ("en", Template::EmailVerify, "email-verify"),
    ("en", Template::PasswordReset, "password-reset"),
    ("en", Template::EmailConfirmChange, "email-confirm-change"),
    ("en", Template::SigninPasswordless, "signin-passwordless"),
    ("en", Template::SigninOtp, "signin-otp"),
    ("en", Template::EmailChanged, "email-changed"),
    ("en", Template::PasswordChanged, "password-changed"),
    ("fr", Template::EmailVerify, "email-verify"),
    ("fr", Template::PasswordReset, "password-reset"),
    ("fr", Template::EmailConfirmChange, "email-confirm-change"),
    ("fr", Template::SigninPasswordless, "signin-passwordless"),
    ("fr", Template::SigninOtp, "signin-otp"),
    ("fr", Template::EmailChanged, "email-changed"),
    ("fr", Template::PasswordChanged, "password-changed"),
];

const SUBJECT_FILE: &str = "subject.txt";
const BODY_FILE: &str = "body.html";

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
}

/// Every template file known, by `(locale, template)`: the files on disk over the built-ins.
#[derive(Debug, Default)]
pub struct TemplateSet {
    subjects: HashMap<(String, Template), String>,
    bodies: HashMap<(String, Template), String>,
}

impl TemplateSet {
    /// Only the built-in texts.
    pub fn built_in() -> TemplateSet {
        let mut set = TemplateSet::default();
        for (locale, template, subject, body) in BUILT_IN {
            set.subjects.insert((locale.to_string(), *template), subject.to_string());
            set.bodies.insert((locale.to_string(), *template), body.to_string());
        }
        set
    }

    /// The built-in texts overridden by the files under `folder`. A missing folder or file keeps the built-in
    /// text; a file that exists but cannot be read is an error, so a broken deployment fails at start.
    pub fn load(folder: &Path) -> anyhow::Result<TemplateSet> {
        let mut set = TemplateSet::built_in();
        let entries = match std::fs::read_dir(folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(folder = %folder.display(), "no email templates folder: using the built-in templates");
                return Ok(set);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read email templates in {}", folder.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read email templates in {}", folder.display()))?;
            let Some(locale) = entry.file_name().to_str().filter(|name| is_locale_name(name)).map(str::to_string)
            else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            for template in Template::ALL {
                let dir = entry.path().join(template.dir_name());
                if let Some(subject) = read_optional(&dir.join(SUBJECT_FILE))? {
                    set.subjects.insert((locale.clone(), template), subject);
                }
                if let Some(body) = read_optional(&dir.join(BODY_FILE))? {
                    set.bodies.insert((locale.clone(), template), body);
                }
            }
        }
        Ok(set)
    }

    /// Renders `template` in `locale`, each file falling back to English when the locale lacks it.
    pub fn render(&self, template: Template, locale: &str, variables: &TemplateVariables) -> anyhow::Result<Rendered> {
        let candidates = locale_candidates(locale);
        let subject = find_file(&self.subjects, &candidates, template)
            .with_context(|| format!("no subject for the {} email", template.dir_name()))?;
        let body = find_file(&self.bodies, &candidates, template)
            .with_context(|| format!("no body for the {} email", template.dir_name()))?;
        let subject = substitute(subject.trim(), variables, |value| value.replace(['\r', '\n'], " "));
        let html_body = substitute(body, variables, super::text::escape_html);
        let text_body = super::text::html_to_text(&html_body);
        Ok(Rendered { subject: subject.replace(['\r', '\n'], " "), html_body, text_body })
    }
}

/// The first of `locales` that has a file for `template`.
fn find_file<'a>(
    files: &'a HashMap<(String, Template), String>,
    locales: &[String],
    template: Template,
) -> Option<&'a String> {
    locales.iter().find_map(|locale| files.get(&(locale.clone(), template)))
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read email template {}", path.display())),
    }
}

/// Folder names that can be locales (`en`, `fr`, `pt-BR`, `zh_Hant`); anything else is ignored.
fn is_locale_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 35 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The locales to try, best first: as given, lower-cased, its language alone (`fr` for `fr-CA`), then English.
fn locale_candidates(locale: &str) -> Vec<String> {
    let locale = locale.trim();
    let lower = locale.to_ascii_lowercase();
    let language = lower.split(['-', '_']).next().unwrap_or_default().to_string();
    let mut candidates: Vec<String> = Vec::with_capacity(4);
    for candidate in [locale.to_string(), lower, language, FALLBACK_LOCALE.to_string()] {
        if !candidate.is_empty() && !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    candidates
}

/// Replaces each `${name}` in one pass (so a value containing `${...}` is never expanded); unknown names
/// are left as written.
fn substitute(text: &str, variables: &TemplateVariables, encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}').and_then(|end| Some((variables.get(&after[..end])?, end))) {
            Some((value, end)) => {
                out.push_str(&encode(value));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl TemplateVariables {
    /// The value of a template variable by its name in the templates (nhost's camelCase).
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "link" => &self.link,
            "displayName" => &self.display_name,
            "email" => &self.email,
            "newEmail" => &self.new_email,
            "ticket" => &self.ticket,
            "redirectTo" => &self.redirect_to,
            "locale" => &self.locale,
            "serverUrl" => &self.server_url,
            "clientUrl" => &self.client_url,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> TemplateVariables {
        TemplateVariables {
            link: "https://auth.example.com/verify?ticket=t1&type=emailVerify".into(),
            display_name: "<b>Eve & Co</b>".into(),
            email: "eve@example.com".into(),
            ticket: "123456".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_template_has_an_english_and_a_french_text_using_its_variables() -> anyhow::Result<()> {
        let set = TemplateSet::built_in();
        for template in Template::ALL {
            for locale in ["en", "fr"] {
                let rendered = set.render(template, locale, &variables())?;
                assert!(!rendered.subject.is_empty());
                assert!(!rendered.html_body.contains("${"), "{template:?} {locale} left a variable");
                assert!(rendered.html_body.contains("&lt;b&gt;Eve &amp; Co&lt;/b&gt;"));
                if template == Template::SigninOtp {
                    assert!(rendered.text_body.contains("123456"));
                } else if template == Template::PasswordChanged {
                    assert!(rendered.text_body.contains("eve@example.com"));
                } else {
                    assert!(
                        rendered.html_body.contains("https://auth.example.com/verify?ticket=t1&amp;type=emailVerify")
                    );
                    assert!(
                        rendered.text_body.contains("<https://auth.example.com/verify?ticket=t1&type=emailVerify>")
                    );
                }
            }
        }
        assert_ne!(
            set.render(Template::EmailVerify, "en", &variables())?.subject,
            set.render(Template::EmailVerify, "fr", &variables())?.subject
        );
        Ok(())
    }

    #[test]
    fn locales_fall_back_to_their_language_then_english() -> anyhow::Result<()> {
        let set = TemplateSet::built_in();
        let french = set.render(Template::PasswordReset, "fr", &variables())?;
        assert_eq!(set.render(Template::PasswordReset, "fr-CA", &variables())?, french);
        let english = set.render(Template::PasswordReset, "en", &variables())?;
        assert_eq!(set.render(Template::PasswordReset, "xx", &variables())?, english);
        assert_eq!(set.render(Template::PasswordReset, "", &variables())?, english);
        Ok(())
    }

    #[test]
    fn substitution_is_one_pass_and_subjects_stay_on_one_line() {
        let vars = TemplateVariables {
            display_name: "${email}\r\nBcc: x@example.com".into(),
            email: "e@example.com".into(),
            ..Default::default()
        };
        assert_eq!(
            substitute("Hi ${displayName} ${unknown} ${", &vars, |v| v.replace(['\r', '\n'], " ")),
            "Hi ${email}  Bcc: x@example.com ${unknown} ${"
        );
    }

    #[test]
    fn locale_folder_names_are_checked() {
        assert!(is_locale_name("pt-BR"));
        assert!(!is_locale_name(".."));
        assert!(!is_locale_name("a/b"));
    }
}

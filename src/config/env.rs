//! The one environment reader. Each setting is described once, as a [`Setting`] next to the code that uses
//! it: its name, default, whether it is a secret, and a line of documentation. Reading it ([`Env`]), the
//! redacted print of `hauth config check` and the settings table of the README all come from that
//! description, so a name is written once.
//!
//! Values are trimmed and an empty value counts as unset. A secret is also read from the file named by
//! `<NAME>_FILE` when `<NAME>` itself is unset (Docker and Kubernetes secrets). Problems are collected, not
//! returned one at a time, so a bad deployment learns everything wrong with it at once.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::str::FromStr;

use secrecy::SecretString;
use url::Url;

/// How a setting's value may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Plain,
    /// Never shown; also read from `<NAME>_FILE`.
    Secret,
    /// A URL shown with its password hidden; also read from `<NAME>_FILE`.
    SecretUrl,
}

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    /// Names read, in order, when `name` is unset.
    pub aliases: &'static [&'static str],
    /// The default as a value (parsed like a set value) or, for a computed default, its description in
    /// angle brackets (`<CPU count>`); `None` when unset means absent.
    pub default: Option<&'static str>,
    pub shown: Shown,
    pub doc: &'static str,
}

impl Setting {
    pub const fn new(name: &'static str, default: Option<&'static str>, doc: &'static str) -> Setting {
        Setting { name, aliases: &[], default, shown: Shown::Plain, doc }
    }

    pub const fn secret(self) -> Setting {
        Setting { shown: Shown::Secret, ..self }
    }

    pub const fn secret_url(self) -> Setting {
        Setting { shown: Shown::SecretUrl, ..self }
    }

    pub const fn aliases(self, aliases: &'static [&'static str]) -> Setting {
        Setting { aliases, ..self }
    }

    fn is_secret(&self) -> bool {
        self.shown != Shown::Plain
    }

    /// Whether this describes a family of settings, one per provider (`<P>` in the name).
    pub fn is_template(&self) -> bool {
        self.name.contains(TEMPLATE_MARK)
    }

    /// `value` as `hauth config check` may print it.
    pub fn display(&self, value: &str) -> String {
        display(self.shown, value)
    }
}

/// Where a template's name takes each provider's upper-case name.
pub const TEMPLATE_MARK: &str = "<P>";

/// A setting as the reader needs it: a fixed [`Setting`], or one of a template's settings.
pub trait Described {
    fn name(&self) -> Cow<'_, str>;
    fn aliases(&self) -> Vec<Cow<'_, str>>;
    fn setting(&self) -> &Setting;

    /// A literal default (not a described, computed one).
    fn literal_default(&self) -> Option<&'static str> {
        self.setting().default.filter(|default| !default.starts_with('<'))
    }
}

impl Described for Setting {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.name)
    }

    fn aliases(&self) -> Vec<Cow<'_, str>> {
        self.aliases.iter().map(|alias| Cow::Borrowed(*alias)).collect()
    }

    fn setting(&self) -> &Setting {
        self
    }
}

/// One provider's setting of a template: the client id template for `GOOGLE`, also read under the
/// provider's other names (nhost's `AZUREAD` and `ENTRAID` for Microsoft).
pub struct ForProvider<'a> {
    pub template: &'static Setting,
    pub provider: &'a str,
    pub other_names: &'a [&'a str],
}

impl Described for ForProvider<'_> {
    fn name(&self) -> Cow<'_, str> {
        Cow::Owned(self.template.name.replace(TEMPLATE_MARK, self.provider))
    }

    fn aliases(&self) -> Vec<Cow<'_, str>> {
        self.other_names.iter().map(|other| Cow::Owned(self.template.name.replace(TEMPLATE_MARK, other))).collect()
    }

    fn setting(&self) -> &Setting {
        self.template
    }
}

/// `value` as `hauth config check` may print it.
fn display(shown: Shown, value: &str) -> String {
    match shown {
        Shown::Plain => value.to_string(),
        Shown::Secret if value.is_empty() => "<unset>".to_string(),
        Shown::Secret => "<redacted>".to_string(),
        Shown::SecretUrl => match Url::parse(value) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("redacted"));
                }
                url.to_string()
            }
            Err(_) if value.is_empty() => String::new(),
            Err(_) => "<unparsable>".to_string(),
        },
    }
}

/// Reads settings out of an environment map.
pub struct Env<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
    /// What each setting read resolved to, as it may be printed.
    resolved: BTreeMap<String, String>,
}

/// What reading the environment left: the problems and the printable values.
pub struct Reading {
    pub problems: Vec<String>,
    pub resolved: BTreeMap<String, String>,
}

impl<'a> Env<'a> {
    pub fn new(vars: &'a HashMap<String, String>) -> Self {
        Env { vars, problems: Vec::new(), resolved: BTreeMap::new() }
    }

    pub fn finish(self) -> Reading {
        Reading { problems: self.problems, resolved: self.resolved }
    }

    /// The value as set: the name, then its aliases, then (secrets) `<NAME>_FILE`. Empty counts as unset.
    pub fn raw(&mut self, setting: &impl Described) -> Option<String> {
        let name = setting.name();
        let set = std::iter::once(name.clone())
            .chain(setting.aliases())
            .find_map(|name| self.vars.get(name.as_ref()).map(|value| value.trim()).filter(|value| !value.is_empty()));
        if let Some(value) = set {
            return Some(value.to_string());
        }
        if !setting.setting().is_secret() {
            return None;
        }
        let file_variable = format!("{name}_FILE");
        let path = self.vars.get(&file_variable).map(|path| path.trim()).filter(|path| !path.is_empty())?;
        match std::fs::read_to_string(path) {
            Ok(contents) => Some(contents.trim_end_matches(['\n', '\r']).to_string()).filter(|v| !v.is_empty()),
            Err(error) => {
                self.problems.push(format!("{file_variable}: cannot read {path}: {error}"));
                None
            }
        }
    }

    /// Records a problem with a setting.
    pub fn problem(&mut self, setting: &impl Described, message: impl Display) {
        self.problems.push(format!("{}: {message}", setting.name()));
    }

    /// Records a problem that spans settings.
    pub fn problem_text(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// Sets what `hauth config check` shows for a setting (already safe to print).
    pub fn show(&mut self, setting: &impl Described, value: impl Into<String>) {
        self.resolved.insert(setting.name().into_owned(), value.into());
    }

    fn resolve(&mut self, setting: &impl Described, value: &str) {
        let shown = display(setting.setting().shown, value);
        self.resolved.insert(setting.name().into_owned(), shown);
    }

    /// The value, or the literal default, or `None`.
    pub fn text(&mut self, setting: &impl Described) -> Option<String> {
        let value = self.raw(setting).or_else(|| setting.literal_default().map(str::to_string));
        self.resolve(setting, value.as_deref().unwrap_or_default());
        value
    }

    /// The value, or the literal default, or an empty string.
    pub fn string(&mut self, setting: &impl Described) -> String {
        self.text(setting).unwrap_or_default()
    }

    /// A parsed value; the default when unset (or `T::default()` for a computed one the caller fills in).
    pub fn parsed<T: FromStr + Default>(&mut self, setting: &impl Described) -> T {
        self.optional(setting).unwrap_or_default()
    }

    /// A parsed value, `None` when unset and without a literal default.
    pub fn optional<T: FromStr>(&mut self, setting: &impl Described) -> Option<T> {
        let value = self.text(setting)?;
        match value.parse() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                self.problem(setting, format!("cannot parse {value:?}"));
                None
            }
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn flag(&mut self, setting: &impl Described) -> bool {
        match self.text(setting).map(|value| value.to_ascii_lowercase()).as_deref() {
            None => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(other) => {
                self.problem(setting, format!("expected true or false, got {other:?}"));
                false
            }
        }
    }

    /// A comma-separated list (entries trimmed, empty ones dropped).
    pub fn list(&mut self, setting: &impl Described) -> Vec<String> {
        split_list(&self.string(setting))
    }

    /// A URL, `None` when unset.
    pub fn url(&mut self, setting: &impl Described) -> Option<Url> {
        let value = self.text(setting)?;
        match Url::parse(&value) {
            Ok(url) => Some(url),
            Err(error) => {
                self.problem(setting, format!("not a URL ({error})"));
                None
            }
        }
    }

    /// A secret, `None` when unset. Taken as given: a password may begin or end with spaces.
    pub fn secret(&mut self, setting: &impl Described) -> Option<SecretString> {
        let exact = self.vars.get(setting.name().as_ref()).filter(|value| !value.is_empty()).cloned();
        let value = exact.or_else(|| self.raw(setting));
        self.resolve(setting, value.as_deref().unwrap_or_default());
        value.map(SecretString::from)
    }
}

/// Reads one section alone (tools and tests): its value, or every problem found.
pub fn load_section<T>(vars: &HashMap<String, String>, load: impl FnOnce(&mut Env) -> T) -> Result<T, Vec<String>> {
    let mut env = Env::new(vars);
    let section = load(&mut env);
    let reading = env.finish();
    if reading.problems.is_empty() { Ok(section) } else { Err(reading.problems) }
}

/// `a, b,,c` → `[a, b, c]`.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

/// The README's settings table: one row per setting, in the given order.
pub fn markdown_table(settings: &[&Setting]) -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for setting in settings {
        let mut names = format!("`{}`", setting.name);
        if !setting.aliases.is_empty() {
            let aliases: Vec<String> = setting.aliases.iter().map(|alias| format!("`{alias}`")).collect();
            names.push_str(&format!(" (or {})", aliases.join(", ")));
        }
        let default = match setting.default {
            Some("") => "empty".to_string(),
            Some(default) => format!("`{default}`"),
            None => String::new(),
        };
        let secret = if setting.is_secret() { " Secret: also read from `<NAME>_FILE`." } else { "" };
        table.push_str(&format!("| {names} | {default} | {}{secret} |\n", setting.doc.replace('|', "\\|")));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: Setting = Setting::new("TEST_PORT", Some("4000"), "a port");
    const TOKEN: Setting = Setting::new("TEST_TOKEN", None, "a secret").secret();
    const URL: Setting = Setting::new("TEST_URL", None, "a url").secret_url().aliases(&["TEST_URL_ALIAS"]);

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_aliases_and_problems() {
        let vars = vars(&[("TEST_URL_ALIAS", "postgres://u:pw@db/x"), ("TEST_FLAG", "maybe")]);
        let mut env = Env::new(&vars);
        assert_eq!(env.parsed::<u16>(&PORT), 4000);
        assert_eq!(env.text(&URL).as_deref(), Some("postgres://u:pw@db/x"));
        assert!(!env.flag(&Setting::new("TEST_FLAG", None, "")));
        let reading = env.finish();
        assert_eq!(reading.problems.len(), 1);
        assert_eq!(reading.resolved["TEST_URL"], "postgres://u:redacted@db/x");
        assert_eq!(reading.resolved["TEST_PORT"], "4000");
    }

    #[test]
    fn secrets_are_read_from_files_and_never_shown() -> std::io::Result<()> {
        let path = std::env::temp_dir().join(format!("hauth-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "s3cret\n")?;
        let vars = vars(&[("TEST_TOKEN_FILE", path.to_str().unwrap_or_default())]);
        let mut env = Env::new(&vars);
        let token = env.secret(&TOKEN).map(|secret| secrecy::ExposeSecret::expose_secret(&secret).to_string());
        assert_eq!(token.as_deref(), Some("s3cret"));
        assert_eq!(env.finish().resolved["TEST_TOKEN"], "<redacted>");
        std::fs::remove_file(path)
    }
}

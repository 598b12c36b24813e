//! The text of a code message: the configured template when set (every locale), otherwise a built-in
//! default in the user's language (English, French). `${code}` is replaced by the code.
use super::config::CODE_PLACEHOLDER;

const DEFAULT_TEMPLATE_EN: &str = "Your code is ${code}";
const DEFAULT_TEMPLATE_FR: &str = "Votre code est ${code}";

#[derive(Clone, Debug)]
pub(crate) struct MessageTemplates {
    custom: Option<String>,
}

impl MessageTemplates {
    pub(crate) fn new(custom: Option<String>) -> Self {
        MessageTemplates { custom }
    }

    /// The message carrying `code` for a user whose locale is `locale` (`fr`, `fr-CA`, `en`, …).
    pub(crate) fn render(&self, code: &str, locale: &str) -> String {
        let template = match &self.custom {
            Some(custom) => custom.as_str(),
            None if language(locale) == "fr" => DEFAULT_TEMPLATE_FR,
            None => DEFAULT_TEMPLATE_EN,
        };
        template.replace(CODE_PLACEHOLDER, code)
    }
}

/// The language part of a locale, lower-cased: `fr-CA` → `fr`.
pub(crate) fn language(locale: &str) -> String {
    locale.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::MessageTemplates;

    #[test]
    fn default_template_follows_the_locale() {
        let templates = MessageTemplates::new(None);
        assert_eq!(templates.render("123456", "en"), "Your code is 123456");
        assert_eq!(templates.render("123456", "fr"), "Votre code est 123456");
        assert_eq!(templates.render("123456", "fr-CA"), "Votre code est 123456");
        assert_eq!(templates.render("123456", "de"), "Your code is 123456");
    }

    #[test]
    fn custom_template_applies_to_every_locale() {
        let templates = MessageTemplates::new(Some("${code} is your Acme code".to_string()));
        assert_eq!(templates.render("42", "fr"), "42 is your Acme code");
    }
}

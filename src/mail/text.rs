//! The plain-text part of a message, derived from its HTML: tags are dropped, block elements become line
//! breaks, entities are decoded, and every link keeps its address visible (`label <https://...>`) so a reader
//! without HTML can still follow it. Not a general HTML renderer: enough for email templates.

/// Elements whose content is never shown.
const HIDDEN: &[&str] = &["head", "style", "script", "title"];
/// Elements that start and end on a line of their own.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "tr",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "hr",
    "body",
    "html",
];

/// Escapes the characters that are special in HTML text and attribute values.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Decodes the named entities templates use and every numeric one; anything else is kept as written.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded =
            rest.find(';').filter(|end| *end <= 12).and_then(|end| Some((decode_entity(&rest[1..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        "rsquo" => '’',
        "lsquo" => '‘',
        "ldquo" => '“',
        "rdquo" => '”',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        _ => return None,
    })
}

/// One parsed tag: its lower-case name, whether it closes, and its `href` if any.
struct Tag {
    name: String,
    closing: bool,
    href: Option<String>,
}

fn parse_tag(inner: &str) -> Tag {
    let inner = inner.trim();
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, inner),
    };
    let name_end = inner.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let href = if name == "a" { attribute(&inner[name_end..], "href") } else { None };
    Tag { name, closing, href }
}

/// The value of attribute `wanted` in a tag's attribute text, entities decoded.
fn attribute(mut text: &str, wanted: &str) -> Option<String> {
    loop {
        text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if text.is_empty() {
            return None;
        }
        let name_end = text.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(text.len());
        let name = text[..name_end].to_ascii_lowercase();
        text = text[name_end..].trim_start();
        let value = match text.strip_prefix('=') {
            None => String::new(),
            Some(after) => {
                let after = after.trim_start();
                let (value, rest) = match after.chars().next() {
                    Some(quote @ ('"' | '\'')) => {
                        let body = &after[1..];
                        let end = body.find(quote).unwrap_or(body.len());
                        (&body[..end], body.get(end + 1..).unwrap_or(""))
                    }
                    _ => {
                        let end = after.find(char::is_whitespace).unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                text = rest;
                value.to_string()
            }
        };
        if name == wanted {
            return Some(decode_entities(&value));
        }
    }
}

/// Finds the end of a tag starting after `<`, skipping `>` inside quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Builds the text output: collapses whitespace like a browser and keeps at most one blank line in a row.
#[derive(Default)]
struct TextWriter {
    out: String,
    pending_space: bool,
    /// Line breaks asked for since the last text (capped at 2: one blank line).
    pending_breaks: usize,
}

impl TextWriter {
    fn text(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                self.pending_space = true;
                continue;
            }
            if !self.out.is_empty() {
                if self.pending_breaks > 0 {
                    for _ in 0..self.pending_breaks {
                        self.out.push('\n');
                    }
                } else if self.pending_space {
                    self.out.push(' ');
                }
            }
            self.pending_breaks = 0;
            self.pending_space = false;
            self.out.push(if c == '\u{a0}' { ' ' } else { c });
        }
    }

    fn line_break(&mut self, count: usize) {
        self.pending_breaks = self.pending_breaks.max(count);
        self.pending_space = false;
    }

    fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }
}

/// Renders an HTML document as readable plain text.
pub fn html_to_text(html: &str) -> String {
    let mut writer = TextWriter::default();
    let mut rest = html;
    let mut hidden_depth = 0usize;
    // The open link: its address and the text shown for it so far.
    let mut link: Option<(String, String)> = None;
    while !rest.is_empty() {
        let Some(start) = rest.find('<') else {
            emit_text(&mut writer, &mut link, hidden_depth, rest);
            break;
        };
        emit_text(&mut writer, &mut link, hidden_depth, &rest[..start]);
        rest = &rest[start + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map(|end| &after[end + 3..]).unwrap_or("");
            continue;
        }
        let Some(end) = tag_end(rest) else {
            // A lone `<`: show it as text.
            emit_text(&mut writer, &mut link, hidden_depth, "<");
            continue;
        };
        let tag = parse_tag(&rest[..end]);
        rest = &rest[end + 1..];
        if tag.name.starts_with('!') || tag.name.starts_with('?') {
            continue;
        }
        if HIDDEN.contains(&tag.name.as_str()) {
            hidden_depth = if tag.closing { hidden_depth.saturating_sub(1) } else { hidden_depth + 1 };
            continue;
        }
        if hidden_depth > 0 {
            continue;
        }
        match tag.name.as_str() {
            "a" if !tag.closing => {
                finish_link(&mut writer, link.take());
                link = tag
                    .href
                    .filter(|href| !href.trim().is_empty())
                    .map(|href| (href.trim().to_string(), String::new()));
            }
            "a" => finish_link(&mut writer, link.take()),
            "br" => writer.line_break(1),
            "li" if !tag.closing => {
                writer.line_break(1);
                writer.text("- ");
            }
            "li" | "td" | "th" => writer.line_break(1),
            name if BLOCKS.contains(&name) => writer.line_break(2),
            _ => {}
        }
    }
    finish_link(&mut writer, link.take());
    writer.finish()
}

fn emit_text(writer: &mut TextWriter, link: &mut Option<(String, String)>, hidden_depth: usize, raw: &str) {
    if hidden_depth > 0 || raw.is_empty() {
        return;
    }
    let text = decode_entities(raw);
    match link {
        Some((_, label)) => label.push_str(&text),
        None => writer.text(&text),
    }
}

fn finish_link(writer: &mut TextWriter, link: Option<(String, String)>) {
    let Some((href, label)) = link else { return };
    let label = label.split_whitespace().collect::<Vec<_>>().join(" ");
    if label.is_empty() || label == href || href.starts_with('#') {
        writer.text(if label.is_empty() { &href } else { &label });
    } else {
        writer.text(&format!("{label} <{href}>"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(escape_html(r#"<b>Eve & "Co"</b>'"#), "&lt;b&gt;Eve &amp; &quot;Co&quot;&lt;/b&gt;&#39;");
        assert_eq!(decode_entities(&escape_html(r#"<b>Eve & "Co"</b>'"#)), r#"<b>Eve & "Co"</b>'"#);
    }

    #[test]
    fn entities_decode_and_unknown_ones_stay() {
        assert_eq!(decode_entities("a &amp; b &#233; &#xE9; &bogus; & c"), "a & b é é &bogus; & c");
    }

    #[test]
    fn links_keep_their_address_and_blocks_become_lines() {
        let html = r#"<!doctype html><html><head><title>Hidden</title><style>p { color: red; }</style></head>
            <body>
              <p>Hello   <b>Eve &amp; Co</b>,</p>
              <!-- a comment -->
              <p><a href="https://example.com/verify?ticket=a&amp;type=b" style="x > y">Confirm
                 my address</a></p>
              <p>Or <a href="https://example.com/x">https://example.com/x</a><br>Thanks</p>
              <ul><li>one</li><li>two</li></ul>
            </body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "Hello Eve & Co,\n\nConfirm my address <https://example.com/verify?ticket=a&type=b>\n\n\
             Or https://example.com/x\nThanks\n\n- one\n- two\n"
        );
    }

    #[test]
    fn a_lone_angle_bracket_is_text() {
        assert_eq!(html_to_text("1 < 2"), "1 < 2\n");
    }
}

//! The forms of the HTML pages the simulators and the router write (payer pages, POST-redirect
//! pages), read the way a browser submits them, so tests can press a page's buttons.

/// A form of an HTML page: how and where it submits, its buttons and hidden fields.
#[derive(Debug)]
pub struct Form {
    pub method: String,
    pub action: String,
    pub buttons: Vec<String>,
    pub hidden: Vec<(String, String)>,
}

/// The forms of `html` (the simple markup the simulators and the router write).
pub fn forms(html: &str) -> Vec<Form> {
    html.split("<form")
        .skip(1)
        .map(|chunk| {
            let (tag, rest) = chunk.split_once('>').expect("a form tag ends");
            let inner = rest.split("</form>").next().unwrap_or(rest);
            let buttons = inner
                .split("<button")
                .skip(1)
                .filter_map(|b| b.split_once('>'))
                .map(|(_, rest)| unescape(rest.split("</button>").next().unwrap_or("").trim()))
                .collect();
            let hidden = inner
                .split("<input")
                .skip(1)
                .filter_map(|i| i.split_once('>').map(|(attrs, _)| attrs))
                .filter(|attrs| attr(attrs, "type").as_deref() == Some("hidden"))
                .map(|attrs| {
                    (
                        attr(attrs, "name").unwrap_or_default(),
                        attr(attrs, "value").unwrap_or_default(),
                    )
                })
                .collect();
            Form {
                method: attr(tag, "method")
                    .unwrap_or_else(|| "get".into())
                    .to_ascii_lowercase(),
                action: attr(tag, "action").unwrap_or_default(),
                buttons,
                hidden,
            }
        })
        .collect()
}

/// The form whose button says `label`.
pub fn form_with(html: &str, label: &str) -> Form {
    forms(html)
        .into_iter()
        .find(|f| f.buttons.iter().any(|b| b == label))
        .unwrap_or_else(|| panic!("no '{label}' button in {html}"))
}

pub fn labels(html: &str) -> Vec<String> {
    forms(html).into_iter().flat_map(|f| f.buttons).collect()
}

/// A double-quoted attribute of a tag, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// HTML text with the entities an escaper writes (named or numeric) turned back.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

//! The few pages payrouter and its simulators show to a person (the simulated payer pages and
//! the page that POSTs a payer on to a provider): one frame, readable on a 390 px phone, with
//! no script, style sheet or font from elsewhere. Every value may come from a caller or a
//! provider, so everything interpolated is escaped here.

use crate::Money;

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount as a person reads it: `12.99 GBP`, `1299 JPY`, with the currency's own digits.
pub fn money(amount: Money) -> String {
    let exponent = amount.currency.exponent();
    match amount.to_decimal_string(exponent) {
        Ok(text) => format!("{text} {}", amount.currency),
        // Cannot happen at the currency's own exponent; minor units are still the truth.
        Err(_) => format!("{} minor units of {}", amount.minor, amount.currency),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;line-height:1.5;color:#1b1b1b}\
main{max-width:32rem;margin:0 auto;padding:1rem}\
.banner{background:#8a4b00;color:#fff;padding:.6rem 1rem;font-weight:600;text-align:center}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#555}\
dd{margin:0;font-weight:600;overflow-wrap:anywhere}form{display:inline}\
button{font-size:1rem;padding:.7rem 1.2rem;margin:.4rem .4rem .4rem 0;min-width:8rem}\
.code{color:#666;font-weight:400}";

/// A whole page. `banner` (plain text) is shown across the top when given; `body` must already
/// be escaped HTML.
pub fn page(title: &str, banner: Option<&str>, body: &str) -> String {
    page_with(title, banner, "", body)
}

/// `page` with attributes on its `<body>` element (trusted markup, not escaped).
fn page_with(title: &str, banner: Option<&str>, body_attrs: &str, body: &str) -> String {
    let banner = banner
        .map(|b| format!("<div class=\"banner\" role=\"note\">{}</div>\n", escape(b)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body{body_attrs}>\n{banner}<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body></html>\n",
        title = escape(title),
    )
}

/// A provider status on a page: the words a person reads, and the provider's own code after
/// them in small print (in the element `#status`, which tests and scripts read).
pub struct Status<'a> {
    pub label: &'a str,
    pub code: &'a str,
}

/// Labelled facts (`Amount`, `Reference`, …) as a definition list, then the status if given;
/// each `(id, label, value)` gives the value element an `id` so tests and scripts can find it.
/// Values are escaped here.
pub fn facts(rows: &[(&str, &str, &str)], status: Option<Status<'_>>) -> String {
    let mut out = String::from("<dl>\n");
    for (id, label, value) in rows {
        out.push_str(&format!(
            "<dt>{}</dt><dd id=\"{}\">{}</dd>\n",
            escape(label),
            escape(id),
            escape(value)
        ));
    }
    if let Some(Status { label, code }) = status {
        out.push_str(&format!(
            "<dt>Status</dt><dd id=\"status-label\">{} <small class=\"code\">(<span id=\"status\">{}</span>)</small></dd>\n",
            escape(label),
            escape(code)
        ));
    }
    out.push_str("</dl>\n");
    out
}

/// One button: a form POSTing to `action`.
pub fn button(action: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    )
}

/// What the page that sends a payer on to a provider by POST shows and submits.
pub struct PostRedirect<'a> {
    /// The provider's name for people (`Feennex`).
    pub provider: &'a str,
    pub amount: Option<Money>,
    /// The merchant's reference (the shopTransactionId).
    pub reference: Option<&'a str>,
    /// Where the form goes, and its fields in the provider's order.
    pub url: &'a str,
    pub fields: &'a [(String, String)],
}

/// The self-submitting page of a POST redirect: it submits the provider's form at once, and
/// shows the payment and a button for browsers without scripts.
pub fn post_redirect_page(redirect: &PostRedirect<'_>) -> String {
    let inputs: String = redirect
        .fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let amount = redirect.amount.map(money);
    let mut rows = vec![("provider", "Pay with", redirect.provider)];
    if let Some(amount) = &amount {
        rows.push(("amount", "Amount", amount));
    }
    if let Some(reference) = redirect.reference {
        rows.push(("reference", "Reference", reference));
    }
    let body = format!(
        "{}<p>Taking you to {} to pay…</p>\n<form id=\"redirect\" method=\"post\" action=\"{}\">{inputs}<button type=\"submit\">Continue to payment</button></form>",
        facts(&rows, None),
        escape(redirect.provider),
        escape(redirect.url),
    );
    // Submitted from the body's onload, so the page holds no script element of its own and
    // any `<script` in it could only have come from unescaped input.
    page_with(
        "Continue to payment",
        None,
        " onload=\"document.getElementById('redirect').submit()\"",
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn escapes_every_html_special_character() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn amounts_read_as_money() {
        assert_eq!(money(testing::money(1299, "GBP")), "12.99 GBP");
        assert_eq!(money(testing::money(5, "GBP")), "0.05 GBP");
        assert_eq!(money(testing::money(1299, "JPY")), "1299 JPY");
        assert_eq!(money(testing::money(1234, "KWD")), "1.234 KWD");
    }

    #[test]
    fn pages_fit_a_phone_and_show_their_banner() {
        let html = page("Pay <now>", Some("Simulated <Fena>"), "<p>x</p>");
        assert!(html
            .contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
        assert!(html.contains("<title>Pay &lt;now&gt;</title>"));
        assert!(html.contains(r#"<div class="banner" role="note">Simulated &lt;Fena&gt;</div>"#));
        assert!(!page("t", None, "").contains("banner\""));
    }

    #[test]
    fn a_status_reads_as_words_with_its_code_aside() {
        let html = facts(
            &[("amount", "Amount", "1.00 <GBP>")],
            Some(Status {
                label: "Paid",
                code: "4",
            }),
        );
        assert!(
            html.contains(r#"<dd id="amount">1.00 &lt;GBP&gt;</dd>"#),
            "{html}"
        );
        assert!(html.contains(r#"<dd id="status-label">Paid <small class="code">(<span id="status">4</span>)</small></dd>"#), "{html}");
    }

    #[test]
    fn post_redirect_page_shows_the_payment_and_submits_escaped_fields() {
        let fields = vec![
            ("m_shop".to_string(), "12\"3".to_string()),
            (
                "m_desc".to_string(),
                "<script>alert(1)</script>".to_string(),
            ),
        ];
        let html = post_redirect_page(&PostRedirect {
            provider: "Feennex",
            amount: Some(testing::money(1299, "USD")),
            reference: Some("order-<7>"),
            url: "https://pay.example/?a=1&b=2",
            fields: &fields,
        });
        assert!(html.contains("viewport"));
        assert!(html.contains(r#"<dd id="amount">12.99 USD</dd>"#), "{html}");
        assert!(html.contains(r#"<dd id="reference">order-&lt;7&gt;</dd>"#));
        assert!(html.contains(r#"action="https://pay.example/?a=1&amp;b=2""#));
        assert!(html.contains(r#"<input type="hidden" name="m_shop" value="12&quot;3">"#));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"), "no script element: {html}");
        assert!(html.contains(r#"<body onload="document.getElementById('redirect').submit()">"#));
    }
}

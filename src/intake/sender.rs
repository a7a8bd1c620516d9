//! Who sent an email, established strictly enough to authorise on: the one `From` mailbox
//! (checked against `Sender`), and the address a reply goes to, both answerable.
//!
//! A coordinator is recognised by the `From` address, so any doubt about which address that
//! is must refuse the message rather than pick one. mail-parser keeps every header field it
//! reads (its `from()` returns the *last* `From`), and it reads `from:` and `From :` as
//! `From` too, so the fields are counted here through [`mail_parser::Message::header_values`],
//! never taken one at a time. A message is refused ([`Refusal`]) when it has several `From`
//! fields, several mailboxes in its `From` without a `Sender`, a `Sender` that is not the
//! `From` address, several `Reply-To` fields, or an address a reply cannot be sent to
//! (RFC 5321 domain literals, quoted local parts and source routes, which mail-parser
//! mangles: `"john doe"@x.org` comes back as `@x.org`).
//!
//! Look-alike letters (Cyrillic `е`, dotless `ı`, fullwidth `ｄ`) are answerable addresses
//! of someone else: they pass here and meet the authorisation rule, which compares addresses
//! byte for byte (ASCII case aside). Invisible characters (zero-width space, joiners, BOM)
//! are refused here: no real address has them.

use crate::finding::Rule;
use mail_parser::{HeaderName, HeaderValue, Message};

/// Why an email's sender cannot be taken as its requester, or cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// [`Rule::SenderAmbiguous`] or [`Rule::SenderUnanswerable`].
    pub rule: Rule,
    /// What is wrong, in words for the help desk (the message is quarantined).
    pub reason: String,
}

impl Refusal {
    fn ambiguous(reason: String) -> Refusal {
        Refusal {
            rule: Rule::SenderAmbiguous,
            reason: format!(
                "This message cannot be taken as coming from one person ({}): {reason}",
                Rule::SenderAmbiguous
            ),
        }
    }

    fn unanswerable(role: &str, address: &str, why: &str) -> Refusal {
        Refusal {
            rule: Rule::SenderUnanswerable,
            reason: format!(
                "The {role} address {} cannot be answered ({}): {why}.",
                address.escape_debug(),
                Rule::SenderUnanswerable
            ),
        }
    }
}

/// The sender and reply addresses of a message that passed every check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// The one `From` address; `None` when the message has no `From` address at all (then
    /// it is not answered: see `automatic` in [`super::email`]).
    pub from: Option<String>,
    /// `Reply-To` (its first mailbox), else `From`.
    pub reply_to: Option<String>,
}

/// The mailboxes of every field called `name`, as (display name, address) pairs, one list
/// per field.
fn fields(message: &Message<'_>, name: HeaderName<'static>) -> Vec<Vec<Option<String>>> {
    message
        .header_values(name)
        .map(|v| match v {
            HeaderValue::Address(a) => a.iter().map(|m| m.address().map(str::to_string)).collect(),
            // A field mail-parser could not read as addresses still counts as a field.
            _ => vec![None],
        })
        .collect()
}

fn listed(field: &[Option<String>]) -> String {
    field
        .iter()
        .map(|a| {
            a.as_deref()
                .unwrap_or("(no address)")
                .escape_debug()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Establishes the sender of `message`, or says why it cannot be.
pub fn establish(message: &Message<'_>) -> Result<Sender, Refusal> {
    let froms = fields(message, HeaderName::From);
    if froms.len() > 1 {
        let all: Vec<String> = froms.iter().map(|f| listed(f)).collect();
        return Err(Refusal::ambiguous(format!(
            "it has {} From fields ({}), and RFC 5322 allows one.",
            froms.len(),
            all.join("; ")
        )));
    }
    let Some(from_field) = froms.first() else {
        return Ok(Sender::default());
    };
    if from_field.len() > 1 {
        return Err(Refusal::ambiguous(format!(
            "its From field names {} mailboxes ({}), so Rolecall cannot tell which one sent it.",
            from_field.len(),
            listed(from_field)
        )));
    }
    let Some(from) = from_field.first().cloned().flatten() else {
        return Ok(Sender::default());
    };
    check_sender_field(message, &from)?;
    answerable(&from).map_err(|why| Refusal::unanswerable("sender", &from, why))?;
    let reply_tos = fields(message, HeaderName::ReplyTo);
    if reply_tos.len() > 1 {
        return Err(Refusal::ambiguous(format!(
            "it has {} Reply-To fields, and RFC 5322 allows one.",
            reply_tos.len()
        )));
    }
    let reply_to = match reply_tos.first().and_then(|f| f.first()) {
        Some(Some(r)) => {
            answerable(r).map_err(|why| Refusal::unanswerable("Reply-To", r, why))?;
            r.clone()
        }
        Some(None) => {
            return Err(Refusal::unanswerable(
                "Reply-To",
                &listed(&reply_tos[0]),
                "it holds no address",
            ));
        }
        None => from.clone(),
    };
    Ok(Sender {
        from: Some(from),
        reply_to: Some(reply_to),
    })
}

/// A `Sender` field, when there is one, must name the `From` address and only it.
fn check_sender_field(message: &Message<'_>, from: &str) -> Result<(), Refusal> {
    let senders = fields(message, HeaderName::Sender);
    match senders.as_slice() {
        [] => Ok(()),
        [one]
            if one.len() == 1
                && one[0]
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(from)) =>
        {
            Ok(())
        }
        [one] => Err(Refusal::ambiguous(format!(
            "its Sender field ({}) is not its From address ({}): it was sent by someone on behalf of someone else.",
            listed(one),
            from.escape_debug()
        ))),
        many => Err(Refusal::ambiguous(format!(
            "it has {} Sender fields, and RFC 5322 allows one.",
            many.len()
        ))),
    }
}

/// Characters that show as nothing: an address with one is made to look like another.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}' | '\u{180E}')
}

/// `Ok` when a reply can be sent to `address`, else why not in words.
pub fn answerable(address: &str) -> Result<(), &'static str> {
    if address.chars().any(|c| c.is_control()) {
        return Err("it contains a control character");
    }
    if address.chars().any(invisible) {
        return Err("it contains an invisible character (such as a zero-width space)");
    }
    if address.chars().any(char::is_whitespace) {
        return Err("it contains a space");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("it has no @");
    };
    check_local(local)?;
    check_domain(domain)?;
    // What composes the reply must take it as well.
    if address.parse::<lettre::Address>().is_err()
        || address.parse::<lettre::message::Mailbox>().is_err()
    {
        return Err("it is not an address a message can be sent to");
    }
    Ok(())
}

fn check_local(local: &str) -> Result<(), &'static str> {
    if local.is_empty() {
        return Err("it has nothing before the @ (a quoted name, or a source route)");
    }
    if local.len() > 64 {
        return Err("its part before the @ is longer than 64 bytes");
    }
    const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~.";
    if !local
        .chars()
        .all(|c| c.is_alphanumeric() || ATEXT.contains(c))
    {
        return Err("its part before the @ has characters an address cannot have unquoted");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("its part before the @ has a misplaced dot");
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.starts_with('[') {
        return Err("its domain is an IP address in brackets, not a name");
    }
    if domain.len() > 253 {
        return Err("its domain is longer than 253 bytes");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("its domain has no dot (not a domain on the internet)");
    }
    for label in labels {
        if label.is_empty() {
            return Err("its domain has an empty part (two dots, or a dot at the end)");
        }
        if label.len() > 63 {
            return Err("a part of its domain is longer than 63 bytes");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of its domain begins or ends with a hyphen");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err("its domain has characters a domain name cannot have");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(headers: &str) -> Result<Sender, Refusal> {
        let raw = format!("{headers}Subject: s\r\n\r\nbody\r\n");
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        establish(&message)
    }

    fn rule(headers: &str) -> Option<Rule> {
        sender(headers).err().map(|r| r.rule)
    }

    #[test]
    fn one_from_field_with_one_mailbox_is_the_sender() {
        let s = sender("From: Dana <dwhitfield@gcsu.example.edu>\r\n").unwrap();
        assert_eq!(s.from.as_deref(), Some("dwhitfield@gcsu.example.edu"));
        assert_eq!(s.reply_to, s.from);
        let s = sender("From: a@uni.edu\r\nSender: A@Uni.edu\r\nReply-To: b@uni.edu\r\n").unwrap();
        assert_eq!(s.reply_to.as_deref(), Some("b@uni.edu"));
    }

    #[test]
    fn several_from_fields_in_any_spelling_are_refused() {
        for second in ["From", "from", "FROM", "From ", "from\t"] {
            let h = format!(
                "From: evil@x.org\r\n{second}: Dana Whitfield <dwhitfield@gcsu.example.edu>\r\n"
            );
            let r = sender(&h).unwrap_err();
            assert_eq!(r.rule, Rule::SenderAmbiguous, "{second:?}");
            assert!(r.reason.contains("2 From fields"), "{}", r.reason);
            assert!(r.reason.contains("evil@x.org"), "{}", r.reason);
        }
    }

    #[test]
    fn several_mailboxes_or_a_different_sender_are_refused() {
        let amb = Some(Rule::SenderAmbiguous);
        assert_eq!(
            rule("From: dwhitfield@gcsu.example.edu, evil@x.org\r\n"),
            amb
        );
        assert_eq!(
            rule("From: g: dwhitfield@gcsu.example.edu, evil@x.org;\r\n"),
            amb
        );
        assert_eq!(
            rule("From: dwhitfield@gcsu.example.edu\r\nSender: evil@x.org\r\n"),
            amb
        );
        assert_eq!(
            rule("From: a@uni.edu, b@uni.edu\r\nSender: a@uni.edu\r\n"),
            amb,
            "several mailboxes stay ambiguous with a Sender: which one asks?"
        );
        assert_eq!(
            rule("From: a@uni.edu\r\nSender: a@uni.edu\r\nSender: evil@x.org\r\n"),
            amb
        );
        assert_eq!(
            rule("From: a@uni.edu\r\nReply-To: a@uni.edu\r\nReply-To: evil@x.org\r\n"),
            amb
        );
    }

    #[test]
    fn addresses_that_cannot_be_answered_are_refused_with_the_reason() {
        for from in [
            "evil@[192.0.2.1]",
            "\"john doe\"@x.org",
            "\"dwhitfield\"@gcsu.example.edu",
            "<@gcsu.example.edu:evil@x.org>",
            "evil@x.org.",
            "evil@-x.org",
            "evil@x..org",
            "ev\0il@x.org",
            "dwhit\u{200B}field@gcsu.example.edu",
            "evil@localhost",
        ] {
            let r = sender(&format!("From: {from}\r\n")).unwrap_err();
            assert_eq!(r.rule, Rule::SenderUnanswerable, "{from:?}: {}", r.reason);
        }
        let r = sender("From: a@uni.edu\r\nReply-To: evil@[192.0.2.1]\r\n").unwrap_err();
        assert!(r.reason.contains("Reply-To address"), "{}", r.reason);
    }

    #[test]
    fn look_alike_addresses_are_someone_elses_and_pass_to_the_authorisation_rule() {
        for from in [
            "dwh\u{131}tfield@gcsu.example.edu",
            "dwhitfi\u{435}ld@gcsu.example.edu",
            "\u{FF44}whitfield@gcsu.example.edu",
        ] {
            let s = sender(&format!("From: {from}\r\n")).unwrap();
            assert_eq!(s.from.as_deref(), Some(from));
        }
    }

    #[test]
    fn a_display_name_or_comment_that_looks_like_an_address_is_not_the_address() {
        for h in [
            "From: \"dwhitfield@gcsu.example.edu\" <evil@x.org>\r\n",
            "From: dwhitfield@gcsu.example.edu <evil@x.org>\r\n",
            "From: evil@x.org (dwhitfield@gcsu.example.edu)\r\n",
            "From: =?utf-8?q?dwhitfield=40gcsu.example.edu?= <evil@x.org>\r\n",
        ] {
            assert_eq!(
                sender(h).unwrap().from.as_deref(),
                Some("evil@x.org"),
                "{h}"
            );
        }
        // An encoded word where the address belongs is a name without an address.
        let s = sender("From: =?utf-8?q?dwhitfield=40gcsu.example.edu?=\r\n").unwrap();
        assert_eq!(s.from, None);
    }
}

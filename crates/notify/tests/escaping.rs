#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
//! Properties of the syslog and CEF escaping, over many random strings rich in the
//! delimiters (`|`, `\`, `=`, `"`, `]`, line breaks): no output ever holds an unescaped
//! delimiter or a raw line break, and reading it back gives the input (control characters
//! other than line breaks become spaces; nothing else changes).

use rampart_model::Timestamp;
use rampart_notify::cef::{cef, escape_ext, escape_header};
use rampart_notify::rfc5424::{escape_param, rfc5424, structured_data, Origin};
use rampart_notify::{EventKind, Notification};

const ALPHABET: &[char] = &[
    'a', 'Z', '0', ' ', '|', '\\', '=', '"', ']', '[', '\n', '\r', '\t', '\u{7}', 'é', '€', '🛡',
];
const CASES: usize = 20_000;

fn random_string(rng: &mut fastrand::Rng) -> String {
    let len = rng.usize(0..40);
    (0..len)
        .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())])
        .collect()
}

/// What the escapers promise to keep: the text with control characters as spaces.
fn spaced(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Reads a backslash-escaped string back; `None` if a backslash escapes something not in
/// `escapable` or a raw `forbidden` character appears.
fn unescape(s: &str, escapable: &[char], forbidden: &[char]) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next()?;
            match next {
                'n' if escapable.contains(&'n') => out.push('\n'),
                'r' if escapable.contains(&'r') => out.push('\r'),
                c if escapable.contains(&c) => out.push(c),
                _ => return None,
            }
        } else if forbidden.contains(&c) || c.is_control() {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[test]
fn cef_header_fields_never_leak_a_pipe() {
    let mut rng = fastrand::Rng::with_seed(5424);
    for _ in 0..CASES {
        let s = random_string(&mut rng);
        let e = escape_header(&s);
        assert_eq!(
            unescape(&e, &['\\', '|'], &['|']),
            Some(spaced(&s)),
            "{s:?} → {e:?}"
        );
    }
}

#[test]
fn cef_extension_values_never_leak_an_equals_sign_or_a_line_break() {
    let mut rng = fastrand::Rng::with_seed(6587);
    for _ in 0..CASES {
        let s = random_string(&mut rng);
        let e = escape_ext(&s);
        // Line breaks come back as themselves; other control characters as spaces.
        let expect: String = s
            .chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\r' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(
            unescape(&e, &['\\', '=', 'n', 'r'], &['=']),
            Some(expect),
            "{s:?} → {e:?}"
        );
    }
}

#[test]
fn sd_param_values_never_leak_a_quote_or_bracket() {
    let mut rng = fastrand::Rng::with_seed(32473);
    for _ in 0..CASES {
        let s = random_string(&mut rng);
        let e = escape_param(&s);
        assert_eq!(
            unescape(&e, &['\\', '"', ']'], &['"', ']']),
            Some(spaced(&s)),
            "{s:?} → {e:?}"
        );
    }
}

/// Splits a CEF record into its 7 header fields and the extension, honouring escapes.
fn cef_fields(record: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut escaped = false;
    for c in record.chars() {
        let full = fields.len() == 8;
        let last = fields.last_mut().unwrap();
        if full {
            last.push(c);
        } else if escaped {
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '|' {
            fields.push(String::new());
        } else {
            last.push(c);
        }
    }
    fields
}

/// The params of one SD-ELEMENT, read as a collector would, and where it ends.
fn sd_params(sd: &str) -> (Vec<(String, String)>, usize) {
    let b: Vec<char> = sd.chars().collect();
    assert_eq!(b[0], '[');
    let mut i = 1;
    while b[i] != ' ' && b[i] != ']' {
        i += 1;
    }
    let mut params = Vec::new();
    while b[i] == ' ' {
        i += 1;
        let start = i;
        while b[i] != '=' {
            assert!(!matches!(b[i], ' ' | ']' | '"'), "bad SD-NAME in {sd:?}");
            i += 1;
        }
        let name: String = b[start..i].iter().collect();
        assert_eq!(b[i + 1], '"');
        i += 2;
        let mut value = String::new();
        loop {
            match b[i] {
                '\\' => {
                    value.push(b[i + 1]);
                    i += 2;
                }
                '"' => break,
                ']' => panic!("unescaped ] inside a value of {sd:?}"),
                c => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        i += 1;
        params.push((name, value));
    }
    assert_eq!(b[i], ']', "{sd:?}");
    (params, i + 1)
}

#[test]
fn whole_records_parse_back_whatever_the_text() {
    let mut rng = fastrand::Rng::with_seed(8955);
    let origin = Origin::new(16, "edge-1", 7);
    for _ in 0..2_000 {
        let mut n = Notification::new(
            EventKind::AttackStarted,
            Timestamp::from_secs(1_795_000_000),
            &random_string(&mut rng),
            None,
            None,
            None,
        );
        n.title = random_string(&mut rng);
        n.text = random_string(&mut rng);
        n.target = Some(random_string(&mut rng));

        let record = cef(&n);
        assert!(!record.contains(['\n', '\r']), "{record:?}");
        let fields = cef_fields(&record);
        assert_eq!(fields.len(), 8, "{record:?}");
        assert_eq!(fields[4], "attack.started");
        assert_eq!(fields[5], spaced(&n.title));
        assert_eq!(fields[6], "9");
        assert!(fields[7].starts_with("rt=1795000000000 cat=attack.started "));
        assert!(fields[7].ends_with(&format!("msg={}", escape_ext(&n.text))));

        let line = rfc5424(&n, &origin, 8192);
        assert!(!line.contains(['\n', '\r']), "{line:?}");
        let sd = structured_data(&n);
        let (params, end) = sd_params(&sd);
        assert_eq!(end, sd.chars().count(), "one element, nothing after it");
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("daemon"), Some(spaced(&n.daemon)));
        assert_eq!(get("target"), n.target.as_deref().map(spaced));
        let after_header = line.splitn(7, ' ').nth(6).unwrap();
        assert!(after_header.starts_with(&sd), "{line:?}");
    }
}

//! Plain indicator lists: one address, network, domain, URL or hash per line with `#`
//! comments, and CSV files with a named column. What each line is, is recognised from its
//! form. Bad lines are counted and named, never fatal.

use crate::indicator::{HashAlgo, Observable};
use crate::matcher::normalize_domain;
use crate::pattern::normalize_url;
use rampart_model::Cidr;
use std::io::BufRead;

/// Longest line read; longer ones are counted as errors.
pub const MAX_LINE: usize = 8 * 1024;
/// How many bad lines are described in [`ListLoad::first_errors`].
const KEEP_ERRORS: usize = 10;

/// What a list held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ListLoad {
    pub observables: Vec<Observable>,
    pub lines: u64,
    pub errors: u64,
    /// The first few bad lines: `line N: why`.
    pub first_errors: Vec<String>,
}

impl ListLoad {
    fn bad(&mut self, line: u64, why: String) {
        self.errors += 1;
        if self.first_errors.len() < KEEP_ERRORS {
            self.first_errors.push(format!("line {line}: {why}"));
        }
    }
}

/// Why a list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("reading the list: {0}")]
    Io(#[from] std::io::Error),
    #[error("CSV has no column named `{0}` (header: {1})")]
    NoColumn(String, String),
}

/// One value as a list or a CSV cell gives it: an address or CIDR, a URL, a hash (by its
/// length), else a domain (which then covers its subdomains).
pub fn parse_value(v: &str) -> Result<Observable, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("empty".into());
    }
    if let Ok(c) = v.parse::<Cidr>() {
        return Ok(Observable::Ip(c));
    }
    if v.contains("://") {
        return normalize_url(v)
            .map(Observable::Url)
            .ok_or_else(|| format!("`{}` is not a URL", clip(v)));
    }
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        for algo in [HashAlgo::Md5, HashAlgo::Sha1, HashAlgo::Sha256] {
            if let Some(hex) = algo.normalize(v) {
                return Ok(Observable::Hash { algo, hex });
            }
        }
    }
    if v.contains('/')
        || v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b':')
    {
        return Err(format!("`{}` is not an address or network", clip(v)));
    }
    let name = v.strip_prefix("*.").unwrap_or(v);
    normalize_domain(name)
        .map(|name| Observable::Domain {
            name,
            subdomains: true,
        })
        .ok_or_else(|| {
            format!(
                "`{}` is not an address, network, domain, URL or hash",
                clip(v)
            )
        })
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads lines into `buf` (without the newline); false at the end. Over-long lines are
/// skipped whole and reported as `Err(())`.
fn next_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Option<Result<(), ()>>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() && !too_long {
                None
            } else if too_long {
                Some(Err(()))
            } else {
                Some(Ok(()))
            });
        }
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        if !too_long {
            if buf.len() + chunk.len() > MAX_LINE {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(if too_long { Err(()) } else { Ok(()) }));
        }
    }
}

/// Walks the lines of `r`, counting them in `out` and reporting over-long and non-UTF-8
/// ones there; `f` gets every other line with its number.
fn text_lines<R: BufRead>(
    mut r: R,
    out: &mut ListLoad,
    mut f: impl FnMut(&mut ListLoad, u64, &str) -> Result<(), ListError>,
) -> Result<(), ListError> {
    let mut buf = Vec::with_capacity(256);
    while let Some(line) = next_line(&mut r, &mut buf)? {
        out.lines += 1;
        let n = out.lines;
        if line.is_err() {
            out.bad(n, format!("longer than {MAX_LINE} bytes"));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            out.bad(n, "not UTF-8".into());
            continue;
        };
        f(out, n, text)?;
    }
    Ok(())
}

/// Reads a plain list: one value per line, `#` starts a comment (whole line, or after
/// whitespace at its end), blank lines skipped.
pub fn read_list<R: BufRead>(r: R) -> Result<ListLoad, ListError> {
    let mut out = ListLoad::default();
    text_lines(r, &mut out, |out, n, text| {
        let text = match text.find('#') {
            Some(i) if i == 0 || text[..i].ends_with([' ', '\t']) => &text[..i],
            _ => text,
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        // Some lists add a second column (a score, a date): the value is the first word.
        let value = text.split([' ', '\t', ';']).next().unwrap_or(text);
        match parse_value(value) {
            Ok(o) => out.observables.push(o),
            Err(e) => out.bad(n, e),
        }
        Ok(())
    })?;
    Ok(out)
}

/// Reads a CSV file (RFC 4180 quoting) and takes `column` (named in its header, case
/// ignored) from each row. A header inside a leading `#` comment (as abuse.ch writes
/// them) counts.
pub fn read_csv<R: BufRead>(r: R, column: &str) -> Result<ListLoad, ListError> {
    let mut out = ListLoad::default();
    let mut col: Option<usize> = None;
    let mut first_header = String::new();
    let mut cells = Vec::new();
    text_lines(r, &mut out, |out, n, text| {
        let Some(c) = col else {
            let header = text.trim_start_matches('#').trim();
            if header.is_empty() {
                return Ok(());
            }
            split_csv(header, &mut cells);
            if let Some(i) = cells
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(column))
            {
                col = Some(i);
            } else if !text.starts_with('#') {
                return Err(ListError::NoColumn(column.into(), clip(header).into()));
            } else if first_header.is_empty() {
                first_header = clip(header).into();
            }
            return Ok(());
        };
        if text.starts_with('#') || text.trim().is_empty() {
            return Ok(());
        }
        if !split_csv(text, &mut cells) {
            out.bad(n, "unclosed quote".into());
            return Ok(());
        }
        match cells.get(c) {
            Some(v) => match parse_value(v) {
                Ok(o) => out.observables.push(o),
                Err(e) => out.bad(n, e),
            },
            None => out.bad(n, format!("no column {}", c + 1)),
        }
        Ok(())
    })?;
    if col.is_none() {
        return Err(ListError::NoColumn(column.into(), first_header));
    }
    Ok(out)
}

/// Splits one CSV line into `cells`; false when a quote is left open.
fn split_csv(line: &str, cells: &mut Vec<String>) -> bool {
    cells.clear();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (',', false) => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    !quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_list_with_comments_and_errors() {
        let text = "# a list\n203.0.113.5\n198.51.100.0/24 # a network\r\n\n2001:db8::/32\nEvil.Example.\n*.wild.example\nhttp://x.example/p\nd41d8cd98f00b204e9800998ecf8427e\n10.0.0.1/8\nbad!name\n300.1.2.3\n203.0.113.9 90 2026-01-01\n";
        let l = read_list(text.as_bytes()).unwrap();
        assert_eq!(l.observables.len(), 8, "{l:?}");
        assert_eq!(l.errors, 3);
        assert!(
            l.first_errors[0].starts_with("line 10:"),
            "{:?}",
            l.first_errors
        );
        assert_eq!(
            l.observables[3],
            Observable::Domain {
                name: "evil.example".into(),
                subdomains: true
            }
        );
        assert_eq!(
            l.observables[4],
            Observable::Domain {
                name: "wild.example".into(),
                subdomains: true
            }
        );
    }

    #[test]
    fn hostile_lines() {
        let mut text = vec![b'a'; MAX_LINE * 3];
        text.extend_from_slice(b"\n\xff\xfe\n192.0.2.1");
        let l = read_list(&text[..]).unwrap();
        assert_eq!(l.observables.len(), 1);
        assert_eq!(l.errors, 2);
        assert!(l.first_errors[0].contains("longer than"));
        assert!(l.first_errors[1].contains("UTF-8"));
    }

    #[test]
    fn csv_with_named_column() {
        let text = "# abuse.ch style\n# id,dateadded,url,\"threat\"\n1,2026-01-01,\"http://a.example/x,y\",malware\n2,2026-01-01,http://b.example/,x\n3,\"open\n";
        let l = read_csv(text.as_bytes(), "URL").unwrap();
        assert_eq!(
            l.observables,
            vec![
                Observable::Url("http://a.example/x,y".into()),
                Observable::Url("http://b.example/".into())
            ]
        );
        assert_eq!(l.errors, 1);
        let plain = "ip,score\n192.0.2.1,5\n192.0.2.2,7\n";
        assert_eq!(
            read_csv(plain.as_bytes(), "ip").unwrap().observables.len(),
            2
        );
        let e = read_csv(plain.as_bytes(), "addr").unwrap_err();
        assert!(e.to_string().contains("no column named `addr`"), "{e}");
    }
}

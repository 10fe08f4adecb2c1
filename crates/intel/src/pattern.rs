//! STIX 2.1 patterning: a parser for the whole grammar (so that valid complex patterns are
//! kept, not refused) that reduces the simple comparison forms to observables the matchers
//! hold. Bounded: length, tokens, nesting and set sizes are capped for hostile input.

use crate::indicator::{HashAlgo, Observable};
use crate::matcher::normalize_domain;
use rampart_model::Cidr;
use std::net::IpAddr;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// Deepest nesting of brackets and parentheses.
pub const MAX_DEPTH: usize = 32;
/// Most observables one pattern may reduce to.
pub const MAX_OBSERVABLES: usize = 4_096;

/// What a pattern means to the matchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Any of these observed is a match (one comparison, or an OR of them).
    Observables(Vec<Observable>),
    /// A valid pattern the matchers cannot judge from one address or name (AND across
    /// observations, qualifiers, other object types): kept and listed, never matched. Holds
    /// the original text.
    Other(String),
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::Other(String::new())
    }
}

/// Why a pattern was refused. Says where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("STIX pattern, at byte {at}: {what}")]
pub struct PatternError {
    pub at: usize,
    pub what: &'static str,
}

fn err<T>(at: usize, what: &'static str) -> Result<T, PatternError> {
    Err(PatternError { at, what })
}

/// Parses a STIX 2.1 pattern. `Err` only for text that is not a pattern at all.
pub fn parse(text: &str) -> Result<Pattern, PatternError> {
    if text.len() > MAX_PATTERN_BYTES {
        return err(0, "longer than 64 KiB");
    }
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
        end: text.len(),
    };
    let ast = p.observations()?;
    if p.pos != tokens.len() {
        return err(p.at(), "unexpected text after the pattern");
    }
    let mut out = Vec::new();
    Ok(if reduce(&ast, &mut out) && !out.is_empty() {
        out.sort();
        out.dedup();
        Pattern::Observables(out)
    } else {
        Pattern::Other(text.to_string())
    })
}

/// `s` with `'` and `\` escaped for a STIX string literal.
pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Op(&'static str),
    Word(String),
    Str(String),
    /// Numbers, t'...', h'...', b'...', true/false: literals we never match on.
    Literal,
    Int,
}

struct Token {
    tok: Tok,
    at: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, PatternError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let at = i;
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b':' => Tok::Colon,
            b'.' => Tok::Dot,
            b',' => Tok::Comma,
            b'*' => Tok::Star,
            b'=' => Tok::Op("="),
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 1;
                Tok::Op("!=")
            }
            b'<' | b'>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                if eq {
                    i += 1;
                }
                Tok::Op(match (c, eq) {
                    (b'<', false) => "<",
                    (b'<', true) => "<=",
                    (_, false) => ">",
                    _ => ">=",
                })
            }
            b'\'' => {
                let (s, next) = string_literal(text, i + 1)?;
                i = next;
                out.push(Token {
                    tok: Tok::Str(s),
                    at,
                });
                continue;
            }
            b't' | b'h' | b'b' if b.get(i + 1) == Some(&b'\'') => {
                let (_, next) = string_literal(text, i + 2)?;
                i = next;
                out.push(Token {
                    tok: Tok::Literal,
                    at,
                });
                continue;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                i += 1;
                let mut float = false;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    float |= b[i] == b'.';
                    i += 1;
                }
                let tok = if float || c == b'-' || c == b'+' {
                    Tok::Literal
                } else {
                    Tok::Int
                };
                out.push(Token { tok, at });
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-')
                {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Word(text[start..i].to_string()),
                    at,
                });
                continue;
            }
            _ => return err(at, "unexpected character"),
        };
        i += 1;
        out.push(Token { tok, at });
    }
    Ok(out)
}

/// Reads a string literal after its opening quote; returns it unescaped and the index
/// after the closing quote.
fn string_literal(text: &str, mut i: usize) -> Result<(String, usize), PatternError> {
    let b = text.as_bytes();
    let start = i;
    let mut s = String::new();
    let mut run = i;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                s.push_str(&text[run..i]);
                match b.get(i + 1) {
                    Some(b'\'') => s.push('\''),
                    Some(b'\\') => s.push('\\'),
                    _ => return err(i, "only \\' and \\\\ may be escaped in a string"),
                }
                i += 2;
                run = i;
            }
            b'\'' => {
                s.push_str(&text[run..i]);
                return Ok((s, i + 1));
            }
            _ => i += 1,
        }
    }
    err(start.saturating_sub(1), "string not closed")
}

/// A parsed pattern, reduced to what the matchers care about.
enum Obs {
    /// `[ comparison ]` with no qualifier.
    Plain(Cmp),
    Or(Vec<Obs>),
    /// AND or FOLLOWEDBY of observations, or a qualified one: never reduced.
    Complex,
}

enum Cmp {
    Test(Test),
    Or(Vec<Cmp>),
    /// AND of comparisons, NOT, other operators: never reduced.
    Complex,
}

struct Test {
    object: String,
    path: Vec<String>,
    op: &'static str,
    values: Vec<String>,
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser<'_> {
    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn expect(&mut self, t: Tok, what: &'static str) -> Result<(), PatternError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            err(self.at(), what)
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.at(), "nested too deeply");
        }
        Ok(())
    }

    /// observations := or (FOLLOWEDBY or)*
    fn observations(&mut self) -> Result<Obs, PatternError> {
        let first = self.obs_or()?;
        if !self.word("FOLLOWEDBY") {
            return Ok(first);
        }
        while self.word("FOLLOWEDBY") {
            self.pos += 1;
            self.obs_or()?;
        }
        Ok(Obs::Complex)
    }

    fn obs_or(&mut self) -> Result<Obs, PatternError> {
        let mut parts = vec![self.obs_and()?];
        while self.word("OR") {
            self.pos += 1;
            parts.push(self.obs_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::Or(parts)
        })
    }

    fn obs_and(&mut self) -> Result<Obs, PatternError> {
        let first = self.obs_qualified()?;
        if !self.word("AND") {
            return Ok(first);
        }
        while self.word("AND") {
            self.pos += 1;
            self.obs_qualified()?;
        }
        Ok(Obs::Complex)
    }

    fn obs_qualified(&mut self) -> Result<Obs, PatternError> {
        let mut obs = self.obs_single()?;
        loop {
            if self.word("WITHIN") {
                self.pos += 1;
                self.number()?;
                self.keyword("SECONDS")?;
            } else if self.word("REPEATS") {
                self.pos += 1;
                self.number()?;
                self.keyword("TIMES")?;
            } else if self.word("START") {
                self.pos += 1;
                self.literal()?;
                self.keyword("STOP")?;
                self.literal()?;
            } else {
                return Ok(obs);
            }
            obs = Obs::Complex;
        }
    }

    fn obs_single(&mut self) -> Result<Obs, PatternError> {
        self.enter()?;
        let r = match self.peek() {
            Some(Tok::LBracket) => {
                self.pos += 1;
                let c = self.cmp_or()?;
                self.expect(Tok::RBracket, "expected `]`")?;
                Ok(Obs::Plain(c))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let o = self.observations()?;
                self.expect(Tok::RParen, "expected `)`")?;
                Ok(o)
            }
            _ => err(self.at(), "expected `[` or `(`"),
        };
        self.depth -= 1;
        r
    }

    fn keyword(&mut self, w: &'static str) -> Result<(), PatternError> {
        if self.word(w) {
            self.pos += 1;
            Ok(())
        } else {
            err(self.at(), "expected a keyword (SECONDS, TIMES or STOP)")
        }
    }

    fn number(&mut self) -> Result<(), PatternError> {
        match self.peek() {
            Some(Tok::Int | Tok::Literal) => {
                self.pos += 1;
                Ok(())
            }
            _ => err(self.at(), "expected a number"),
        }
    }

    fn literal(&mut self) -> Result<Option<String>, PatternError> {
        let v = match self.peek() {
            Some(Tok::Str(s)) => Some(s.clone()),
            Some(Tok::Literal | Tok::Int) => None,
            Some(Tok::Word(w)) if w == "true" || w == "false" => None,
            _ => return err(self.at(), "expected a literal"),
        };
        self.pos += 1;
        Ok(v)
    }

    fn cmp_or(&mut self) -> Result<Cmp, PatternError> {
        let mut parts = vec![self.cmp_and()?];
        while self.word("OR") {
            self.pos += 1;
            parts.push(self.cmp_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cmp::Or(parts)
        })
    }

    fn cmp_and(&mut self) -> Result<Cmp, PatternError> {
        let first = self.cmp_test()?;
        if !self.word("AND") {
            return Ok(first);
        }
        while self.word("AND") {
            self.pos += 1;
            self.cmp_test()?;
        }
        Ok(Cmp::Complex)
    }

    fn cmp_test(&mut self) -> Result<Cmp, PatternError> {
        self.enter()?;
        let r = self.cmp_test_inner();
        self.depth -= 1;
        r
    }

    fn cmp_test_inner(&mut self) -> Result<Cmp, PatternError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let c = self.cmp_or()?;
            self.expect(Tok::RParen, "expected `)`")?;
            return Ok(c);
        }
        if self.word("EXISTS") {
            self.pos += 1;
            self.object_path()?;
            return Ok(Cmp::Complex);
        }
        let (object, path) = self.object_path()?;
        let negated = self.word("NOT");
        if negated {
            self.pos += 1;
        }
        let op: &'static str = match self.peek() {
            Some(Tok::Op(o)) => o,
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => "IN",
                "LIKE" => "LIKE",
                "MATCHES" => "MATCHES",
                "ISSUBSET" => "ISSUBSET",
                "ISSUPERSET" => "ISSUPERSET",
                _ => return err(self.at(), "expected a comparison operator"),
            },
            _ => return err(self.at(), "expected a comparison operator"),
        };
        self.pos += 1;
        let mut values = Vec::new();
        if op == "IN" {
            self.expect(Tok::LParen, "expected `(` after IN")?;
            if self.peek() != Some(&Tok::RParen) {
                loop {
                    if let Some(v) = self.literal()? {
                        if values.len() == MAX_OBSERVABLES {
                            return err(self.at(), "set has too many values");
                        }
                        values.push(v);
                    }
                    if self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
            }
            self.expect(Tok::RParen, "expected `)` closing the set")?;
        } else if let Some(v) = self.literal()? {
            values.push(v);
        } else {
            return Ok(Cmp::Complex);
        }
        if negated {
            return Ok(Cmp::Complex);
        }
        Ok(Cmp::Test(Test {
            object,
            path,
            op,
            values,
        }))
    }

    /// object-type ':' component ('.' component | '[' index ']')*
    fn object_path(&mut self) -> Result<(String, Vec<String>), PatternError> {
        let object = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => return err(self.at(), "expected an object type"),
        };
        self.pos += 1;
        self.expect(Tok::Colon, "expected `:` after the object type")?;
        let mut path = vec![self.component()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    path.push(self.component()?);
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    match self.peek() {
                        Some(Tok::Int | Tok::Star | Tok::Literal) => self.pos += 1,
                        _ => return err(self.at(), "expected an index or `*`"),
                    }
                    self.expect(Tok::RBracket, "expected `]` after the index")?;
                    path.push("[]".into());
                }
                _ => break,
            }
            if path.len() > MAX_DEPTH {
                return err(self.at(), "object path too long");
            }
        }
        Ok((object, path))
    }

    fn component(&mut self) -> Result<String, PatternError> {
        let c = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            Some(Tok::Str(s)) => s.clone(),
            _ => return err(self.at(), "expected a property name"),
        };
        self.pos += 1;
        Ok(c)
    }
}

/// Adds the observables `o` stands for; false when it is not a simple form.
fn reduce(o: &Obs, out: &mut Vec<Observable>) -> bool {
    match o {
        Obs::Plain(c) => reduce_cmp(c, out),
        Obs::Or(parts) => parts.iter().all(|p| reduce(p, out)),
        Obs::Complex => false,
    }
}

fn reduce_cmp(c: &Cmp, out: &mut Vec<Observable>) -> bool {
    match c {
        Cmp::Test(t) => {
            for v in &t.values {
                let Some(o) = observable(t, v) else {
                    return false;
                };
                if out.len() == MAX_OBSERVABLES {
                    return false;
                }
                out.push(o);
            }
            true
        }
        Cmp::Or(parts) => parts.iter().all(|p| reduce_cmp(p, out)),
        Cmp::Complex => false,
    }
}

fn observable(t: &Test, v: &str) -> Option<Observable> {
    let eq = t.op == "=" || t.op == "IN";
    match (t.object.as_str(), t.path.as_slice()) {
        ("ipv4-addr" | "ipv6-addr", [p]) if p == "value" && (eq || t.op == "ISSUBSET") => {
            let cidr: Cidr = match v.parse() {
                Ok(c) => c,
                // A network written with host bits set still names the network.
                Err(_) => {
                    let (a, l) = v.split_once('/')?;
                    Cidr::new(a.parse().ok()?, l.parse().ok()?)?
                }
            };
            let v4 = t.object == "ipv4-addr";
            (matches!(cidr.addr(), IpAddr::V4(_)) == v4).then_some(Observable::Ip(cidr))
        }
        ("domain-name", [p]) if p == "value" && eq => Some(Observable::Domain {
            name: normalize_domain(v)?,
            subdomains: false,
        }),
        ("url", [p]) if p == "value" && eq => normalize_url(v).map(Observable::Url),
        ("file", [h, algo]) if h == "hashes" && eq => {
            let algo = HashAlgo::from_name(algo)?;
            Some(Observable::Hash {
                algo,
                hex: algo.normalize(v)?,
            })
        }
        _ => None,
    }
}

/// A URL as the matchers compare it: trimmed, scheme and host in lower case. `None` for
/// text without a scheme.
pub fn normalize_url(u: &str) -> Option<String> {
    let u = u.trim();
    let (scheme, rest) = u.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if host.is_empty() || u.len() > 8192 {
        return None;
    }
    Some(format!(
        "{}://{}{path}",
        scheme.to_ascii_lowercase(),
        host.to_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(p: &str) -> Vec<Observable> {
        match parse(p).unwrap() {
            Pattern::Observables(o) => o,
            Pattern::Other(_) => panic!("not simple: {p}"),
        }
    }

    #[test]
    fn simple_forms() {
        assert_eq!(
            obs("[ipv4-addr:value = '203.0.113.5']"),
            vec![Observable::Ip("203.0.113.5".parse().unwrap())]
        );
        assert_eq!(
            obs("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            vec![Observable::Ip("198.51.100.0/24".parse().unwrap())]
        );
        assert_eq!(
            obs("[ipv6-addr:value = '2001:db8::1']"),
            vec![Observable::Ip("2001:db8::1".parse().unwrap())]
        );
        assert_eq!(
            obs("[domain-name:value = 'Evil.Example.']"),
            vec![Observable::Domain {
                name: "evil.example".into(),
                subdomains: false
            }]
        );
        assert_eq!(
            obs("[url:value = 'HTTP://Evil.Example/a?b=C']"),
            vec![Observable::Url("http://evil.example/a?b=C".into())]
        );
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            obs(&format!("[file:hashes.'SHA-256' = '{}']", h.to_uppercase())),
            vec![Observable::Hash {
                algo: HashAlgo::Sha256,
                hex: h.into()
            }]
        );
        assert_eq!(
            obs("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']").len(),
            1
        );
        // OR inside and across observations, parentheses, IN sets.
        assert_eq!(
            obs("[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2'] OR ([domain-name:value = 'a.example'])").len(),
            3
        );
        assert_eq!(
            obs("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.9')]").len(),
            2
        );
    }

    #[test]
    fn complex_forms_are_kept_as_other() {
        for p in [
            "[ipv4-addr:value = '192.0.2.1'] AND [domain-name:value = 'x.example']",
            "[ipv4-addr:value = '192.0.2.1'] WITHIN 300 SECONDS",
            "[ipv4-addr:value = '192.0.2.1'] REPEATS 5 TIMES",
            "[file:name = 'a.exe' AND file:size > 100]",
            "[network-traffic:dst_ref.value = '192.0.2.1']",
            "[ipv4-addr:value NOT = '192.0.2.1']",
            "[ipv4-addr:value = 'not an address']",
            "[ipv6-addr:value = '192.0.2.1']",
            "[file:name MATCHES '^evil.*\\\\.exe$']",
            "[x509-certificate:hashes.'SHA-256' = 'ab']",
            "[process:extensions.'windows-process-ext'.aslr_enabled = true]",
            "[email-message:from_ref.value = 'a@b.example'] FOLLOWEDBY [url:value = 'http://x/']",
            "[ipv4-addr:value = '192.0.2.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[file:extensions.'ntfs-ext'.alternate_data_streams[*].name = 'x']",
            "[artifact:payload_bin = b'AAAA']",
            "[EXISTS windows-registry-key:values]",
        ] {
            assert_eq!(parse(p), Ok(Pattern::Other(p.to_string())), "{p}");
        }
    }

    #[test]
    fn broken_and_hostile_patterns_are_refused() {
        for p in [
            "",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '1.2.3.4]",
            "[ipv4-addr value = '1']",
            "[ipv4-addr:value ~ '1']",
            "[a:b = 'x'] garbage",
            "[a:b = 'bad \\n escape']",
        ] {
            assert!(parse(p).is_err(), "{p}");
        }
        let deep = format!("{}[a:b = 'x']{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
        let long = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_BYTES));
        assert!(parse(&long).is_err());
        let many = format!(
            "[ipv4-addr:value IN ({})]",
            vec!["'192.0.2.1'"; MAX_OBSERVABLES + 1].join(",")
        );
        assert!(parse(&many).is_err());
    }

    #[test]
    fn quote_round_trips() {
        let v = r"it's a \ test";
        let p = format!("[domain-name:value = '{}']", quote(v));
        assert!(matches!(parse(&p), Ok(Pattern::Other(_)))); // not a valid domain
        let toks = tokenize(&p).unwrap();
        assert!(toks.iter().any(|t| t.tok == Tok::Str(v.into())));
    }
}

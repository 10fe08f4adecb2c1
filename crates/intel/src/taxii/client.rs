//! A TAXII 2.1 client over blocking HTTP (ureq): discovery, collections, polling a
//! collection's objects with `added_after` and `next` paging, adding objects. Every
//! response body is bounded; errors name the URL and the status.

use super::MEDIA_TYPE;
use crate::feeds::FeedAuth;
use crate::stix::{self, BundleLimits};
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// Why a TAXII exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: {message}")]
    Invalid { url: String, message: String },
}

/// Discovery, as a server answers it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Discovery {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub api_roots: Vec<String>,
}

/// A collection, as a server lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CollectionInfo {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub can_read: bool,
    #[serde(default)]
    pub can_write: bool,
}

/// What one poll brought.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Poll {
    pub objects: u64,
    pub pages: u64,
    /// The `X-TAXII-Date-Added-Last` of the last page: where the next poll resumes.
    pub added_last: Option<String>,
}

/// A client for one server and credential.
#[derive(Debug, Clone)]
pub struct TaxiiClient {
    agent: ureq::Agent,
    auth: Option<String>,
    /// Largest response body.
    pub max_bytes: u64,
    /// Most pages in one poll (a server whose `more` never ends does not keep us).
    pub max_pages: u64,
}

impl TaxiiClient {
    pub fn new(auth: Option<&FeedAuth>, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        TaxiiClient {
            agent,
            auth: auth.map(authorization),
            max_bytes: 256 << 20,
            max_pages: 100_000,
        }
    }

    fn get(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<(Vec<u8>, Option<String>), ClientError> {
        let mut req = self.agent.get(url).header("Accept", MEDIA_TYPE);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| ClientError::Http {
            url: url.into(),
            message: e.to_string(),
        })?;
        self.body(url, resp)
    }

    fn body(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<(Vec<u8>, Option<String>), ClientError> {
        let status = resp.status().as_u16();
        let last = resp
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.max_bytes)
            .read_to_vec()
            .map_err(|e| ClientError::Http {
                url: url.into(),
                message: format!("reading the body: {e}"),
            })?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(ClientError::Status {
                url: url.into(),
                status,
                body: text,
            });
        }
        Ok((body, last))
    }

    fn json<T: for<'a> Deserialize<'a>>(&self, url: &str) -> Result<T, ClientError> {
        let (body, _) = self.get(url, &[])?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Invalid {
            url: url.into(),
            message: e.to_string(),
        })
    }

    pub fn discover(&self, url: &str) -> Result<Discovery, ClientError> {
        self.json(url)
    }

    pub fn collections(&self, api_root: &str) -> Result<Vec<CollectionInfo>, ClientError> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            collections: Vec<CollectionInfo>,
        }
        let url = format!("{}/collections/", api_root.trim_end_matches('/'));
        Ok(self.json::<List>(&url)?.collections)
    }

    /// Reads a collection's objects added after `added_after`, page by page, handing each
    /// to `f` as raw JSON. `collection` is the collection's URL (ending in its id).
    pub fn poll(
        &self,
        collection: &str,
        added_after: Option<&str>,
        page_size: usize,
        mut f: impl FnMut(&RawValue),
    ) -> Result<Poll, ClientError> {
        let url = format!("{}/objects/", collection.trim_end_matches('/'));
        let limit = page_size.max(1).to_string();
        let mut poll = Poll::default();
        let mut next: Option<String> = None;
        let limits = BundleLimits {
            max_bytes: self.max_bytes,
            ..BundleLimits::default()
        };
        loop {
            let mut q: Vec<(&str, &str)> = vec![("limit", &limit)];
            if let Some(a) = added_after {
                q.push(("added_after", a));
            }
            if let Some(n) = &next {
                q.push(("next", n));
            }
            let (body, last) = self.get(&url, &q)?;
            poll.pages += 1;
            if last.is_some() {
                poll.added_last = last;
            }
            let mut more = false;
            let mut n_next = None;
            let mut count = 0u64;
            // The envelope: objects streamed, `more` and `next` read beside them.
            #[derive(Deserialize)]
            struct Head {
                #[serde(default)]
                more: bool,
                #[serde(default)]
                next: Option<String>,
            }
            if !body.iter().all(u8::is_ascii_whitespace) {
                stix::for_each_object_in(&body, &url, &limits, |raw| {
                    count += 1;
                    f(raw);
                    Ok(())
                })
                .or_else(|e| {
                    // `{}` (an empty envelope) has neither type nor objects: fine.
                    if body.trim_ascii() == b"{}" {
                        Ok(Default::default())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| ClientError::Invalid {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
                let head: Head =
                    serde_json::from_slice(&body).map_err(|e| ClientError::Invalid {
                        url: url.clone(),
                        message: e.to_string(),
                    })?;
                more = head.more;
                n_next = head.next;
            }
            poll.objects += count;
            if !more || poll.pages >= self.max_pages {
                break;
            }
            match n_next {
                // Some servers (medallion) keep one `next` for the whole read: continue
                // while pages bring objects.
                Some(n) if count > 0 => next = Some(n),
                // `more` without `next`, or an empty page: nothing to continue from.
                _ => break,
            }
        }
        Ok(poll)
    }

    /// Adds objects (an envelope) to a collection; returns the status resource.
    pub fn add(
        &self,
        collection: &str,
        envelope: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let url = format!("{}/objects/", collection.trim_end_matches('/'));
        let mut req = self
            .agent
            .post(&url)
            .header("Accept", MEDIA_TYPE)
            .header("Content-Type", MEDIA_TYPE);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let resp = req
            .send(envelope.to_string().as_bytes())
            .map_err(|e| ClientError::Http {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let (body, _) = self.body(&url, resp)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Invalid {
            url,
            message: e.to_string(),
        })
    }
}

/// The Authorization header for a credential.
pub fn authorization(a: &FeedAuth) -> String {
    match a {
        FeedAuth::Bearer { token } => format!("Bearer {token}"),
        FeedAuth::Basic { user, password } => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ),
    }
}

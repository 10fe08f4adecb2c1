//! Threat intelligence for Rampart: indicators with STIX 2.1 meaning, matchers that hold
//! millions of them (CIDR longest-prefix, domain suffixes, URLs, hashes), importers (STIX
//! bundles, MISP feeds, TAXII 2.1, plain lists), the sharing-policy exporter and a TAXII
//! 2.1 server. Parsing and matching are sans-I/O; HTTP is a thin shell.

pub mod detector;
pub mod export;
pub mod feeds;
pub mod indicator;
pub mod lists;
pub mod matcher;
pub mod misp;
pub mod misp_export;
pub mod pattern;
pub mod stix;
pub mod store;
pub mod taxii;

pub use indicator::{HashAlgo, Indicator, Observable, Tlp};
pub use matcher::{IndicatorSet, Match, Matched, SetBuilder, SharedIndicators};
pub use pattern::Pattern;

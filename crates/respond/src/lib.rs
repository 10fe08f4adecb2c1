//! What Rampart does about what it detects. The [`Policy`] decides, for each detection, which
//! mitigations to take (FlowSpec rules from the attack's fingerprint, a diversion to
//! scrubbing, a blackhole, a ban of a source), when they escalate, renew and end, and refuses
//! whatever its guards forbid: protected addresses, too many at once or per minute, FlowSpec
//! rules that would drop too much normal traffic, blackholes of whole prefixes. It is
//! deterministic (time is an argument); the daemon's executors carry out its decisions.

mod announce;
mod config;
mod flowrule;
mod nft;
mod policy;

pub use announce::{flowspec_rule, routes_for};
pub use config::{
    valid_community, BlackholeConfig, DivertConfig, FlowspecConfig, Mode, RespondConfig,
    RespondConfigError, Rule,
};
pub use flowrule::{collateral, rule_for, rules_for, TrafficMix};
pub use nft::{rule_expr, Ban, NftConfig, NftError, Nftables};
pub use policy::{Decision, Guard, Phase, Policy, Refusal};
pub use rampart_model::{ActionKind, FlowAction, FlowRule, Mitigation, MitigationState, TcpFlags};

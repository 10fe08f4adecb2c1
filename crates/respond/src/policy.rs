//! The response policy: which detections get which mitigations, when they escalate, renew
//! and end, and the guards every mitigation passes, whoever asked for it. Sans-I/O: detections
//! and `tick(now)` in, [`Decision`]s out; executors (BGP, nftables) act on them.

use crate::config::{Mode, RespondConfig, Rule};
use crate::flowrule::{collateral, rules_for, TrafficMix};
use rampart_model::{mask, Cidr, Detection, Direction, Timestamp};
use rampart_model::{ActionKind, FlowAction, FlowRule, Mitigation, MitigationState};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Where a detection is in its life, as the policy hears of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Started,
    Updated,
    Ended,
}

/// Which guard refused a mitigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// The target is in (or covers part of) `respond.never`.
    Never,
    /// `respond.max_active` mitigations are active.
    MaxActive,
    /// `respond.max_new_per_minute` were made in the last minute.
    RateLimit,
    /// The FlowSpec rules would drop too much of the target's normal traffic.
    Collateral,
    /// Blackholing a prefix, with `blackhole.allow_prefixes` off.
    HostRoutesOnly,
    /// No precise mitigation of this kind exists for the detection.
    NoRule,
    /// A ban of an address in the protected space (`protect`): one of ours.
    Protected,
}

impl Guard {
    pub const fn as_str(self) -> &'static str {
        match self {
            Guard::Never => "never",
            Guard::MaxActive => "max_active",
            Guard::RateLimit => "max_new_per_minute",
            Guard::Collateral => "flowspec_max_collateral",
            Guard::HostRoutesOnly => "host_routes_only",
            Guard::NoRule => "no_rule",
            Guard::Protected => "protected",
        }
    }
}

/// A mitigation that was not made, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Refusal {
    pub kind: ActionKind,
    pub target: Cidr,
    pub detection_id: Option<u64>,
    pub requested_by: String,
    pub guard: Guard,
    pub reason: String,
}

/// What the policy decided; each is audited, and executors act on `Apply` and `Withdraw`.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Announce or install it (record only, when `dry_run`).
    Apply(Mitigation),
    /// Its attack goes on: it stays, with a later expiry.
    Renew(Mitigation),
    /// Take it away.
    Withdraw {
        mitigation: Mitigation,
        reason: String,
    },
    /// Manual mode: an analyst must approve it.
    AwaitApproval(Mitigation),
    Refused(Refusal),
}

/// What a detection has had done about it.
#[derive(Clone, Debug)]
struct Case {
    rule: usize,
    /// The rung of the rule's action ladder reached.
    step: usize,
    last_action: Timestamp,
    ended: Option<Timestamp>,
    detection: Detection,
    mix: Option<TrafficMix>,
}

#[derive(Debug)]
pub struct Policy {
    cfg: RespondConfig,
    cases: HashMap<u64, Case>,
    mitigations: BTreeMap<u64, Mitigation>,
    /// When recent mitigations were made, for the per-minute limit.
    recent: VecDeque<Timestamp>,
    next_id: u64,
    out: VecDeque<Decision>,
}

fn overlaps(a: &Cidr, b: &Cidr) -> bool {
    a.contains(b.addr()) || b.contains(a.addr())
}

fn target_of(d: &Detection) -> (Cidr, Direction) {
    match d {
        Detection::Ddos(a) => (a.target, a.direction),
        Detection::Scan(s) => (s.target, s.direction),
        d => (
            d.address()
                .unwrap_or_else(|| Cidr::host(std::net::Ipv4Addr::UNSPECIFIED.into())),
            d.direction(),
        ),
    }
}

fn kind_of(d: &Detection) -> &'static str {
    d.kind()
}

fn matches(rule: &Rule, d: &Detection) -> bool {
    let (target, direction) = target_of(d);
    let vector_ok = match d {
        Detection::Ddos(a) => {
            rule.vectors.is_empty()
                || rule.vectors.iter().any(|v| v == a.vector.as_str())
                || a.vectors
                    .iter()
                    .any(|x| rule.vectors.iter().any(|v| v == x.as_str()))
        }
        _ => rule.vectors.is_empty(),
    };
    (rule.kinds.is_empty() || rule.kinds.iter().any(|k| k == kind_of(d)))
        && vector_ok
        && (rule.targets.is_empty() || rule.targets.iter().any(|p| p.contains(target.addr())))
        && (rule.directions.is_empty() || rule.directions.contains(&direction))
}

fn secs(t: Timestamp, s: u64) -> Timestamp {
    t.saturating_add_millis(s.saturating_mul(1000))
}

impl Policy {
    pub fn new(cfg: RespondConfig) -> Self {
        Policy {
            cfg,
            cases: HashMap::new(),
            mitigations: BTreeMap::new(),
            recent: VecDeque::new(),
            next_id: 1,
            out: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &RespondConfig {
        &self.cfg
    }

    /// New settings (a reload); open cases and mitigations are kept.
    pub fn set_config(&mut self, cfg: RespondConfig) {
        self.cfg = cfg;
    }

    /// Ids of new mitigations start above this one (the highest ever kept).
    pub fn set_next_id(&mut self, after: u64) {
        self.next_id = self.next_id.max(after + 1);
    }

    /// Takes back a mitigation that was active before a restart (ids continue after it).
    pub fn restore(&mut self, m: Mitigation) {
        self.next_id = self.next_id.max(m.id + 1);
        self.mitigations.insert(m.id, m);
    }

    /// Mitigations active or waiting for approval.
    pub fn mitigations(&self) -> impl Iterator<Item = &Mitigation> {
        self.mitigations.values()
    }

    pub fn mitigation(&self, id: u64) -> Option<&Mitigation> {
        self.mitigations.get(&id)
    }

    pub fn poll_decision(&mut self) -> Option<Decision> {
        self.out.pop_front()
    }

    /// A detection started, changed or ended. `mix` is the target's usual traffic, for the
    /// collateral guard.
    pub fn on_detection(
        &mut self,
        now: Timestamp,
        id: u64,
        d: &Detection,
        phase: Phase,
        mix: Option<&TrafficMix>,
    ) {
        match (phase, self.cases.get_mut(&id)) {
            (Phase::Ended, Some(case)) => {
                case.ended = Some(now);
                case.detection = d.clone();
            }
            (Phase::Ended, None) => {}
            (_, Some(case)) => {
                case.detection = d.clone();
                case.ended = None;
            }
            (_, None) => {
                let Some(rule) = self.cfg.rules.iter().position(|r| matches(r, d)) else {
                    return;
                };
                if self.cfg.rules[rule].actions.is_empty() {
                    return;
                }
                self.cases.insert(
                    id,
                    Case {
                        rule,
                        step: 0,
                        last_action: now,
                        ended: None,
                        detection: d.clone(),
                        mix: mix.cloned(),
                    },
                );
                self.act(now, id);
            }
        }
    }

    /// Escalations, renewals, expiries, and withdrawals after the hold time.
    pub fn tick(&mut self, now: Timestamp) {
        let mut finished = Vec::new();
        let mut escalate = Vec::new();
        for (&id, case) in &self.cases {
            match case.ended {
                Some(end) if now >= secs(end, self.cfg.hold_s) => finished.push(id),
                Some(_) => {}
                None => {
                    let ladder = &self.cfg.rules[case.rule].actions;
                    let due = self.cfg.escalate_after_s > 0
                        && now >= secs(case.last_action, self.cfg.escalate_after_s);
                    if due && case.step + 1 < ladder.len() {
                        escalate.push(id);
                    }
                }
            }
        }
        for id in escalate {
            if let Some(case) = self.cases.get_mut(&id) {
                case.step += 1;
                case.last_action = now;
            }
            self.act(now, id);
        }
        for id in finished {
            self.cases.remove(&id);
            let ids: Vec<u64> = self
                .mitigations
                .values()
                .filter(|m| m.detection_id == Some(id))
                .map(|m| m.id)
                .collect();
            for m in ids {
                self.remove(m, format!("the attack ended {} s ago", self.cfg.hold_s));
            }
        }
        let expired: Vec<u64> = self
            .mitigations
            .values()
            .filter(|m| now >= m.expires)
            .map(|m| m.id)
            .collect();
        for id in expired {
            let ongoing = self.mitigations[&id]
                .detection_id
                .and_then(|d| self.cases.get(&d))
                .is_some_and(|c| c.ended.is_none());
            let pending = self.mitigations[&id].state == MitigationState::Pending;
            if ongoing && !pending {
                let ttl = self.ttl_of(id);
                if let Some(m) = self.mitigations.get_mut(&id) {
                    m.expires = secs(now, ttl);
                    self.out.push_back(Decision::Renew(m.clone()));
                }
            } else if pending {
                self.remove(id, "not approved before it expired".into());
            } else {
                self.remove(id, "its time to live ran out".into());
            }
        }
    }

    fn ttl_of(&self, id: u64) -> u64 {
        self.mitigations
            .get(&id)
            .and_then(|m| m.detection_id)
            .and_then(|d| self.cases.get(&d))
            .map_or(3_600, |c| self.cfg.rules[c.rule].ttl_s)
    }

    fn remove(&mut self, id: u64, reason: String) {
        if let Some(mut m) = self.mitigations.remove(&id) {
            m.state = MitigationState::Withdrawn;
            self.out.push_back(Decision::Withdraw {
                mitigation: m,
                reason,
            });
        }
    }

    /// Takes the action of the case's current rung.
    fn act(&mut self, now: Timestamp, id: u64) {
        let Some(case) = self.cases.get(&id) else {
            return;
        };
        let rule = &self.cfg.rules[case.rule];
        let Some(&kind) = rule.actions.get(case.step) else {
            return;
        };
        let why = format!(
            "rule '{}'{}: {}",
            rule.name,
            if case.step > 0 {
                format!(
                    ", escalated to step {} after {} s",
                    case.step + 1,
                    self.cfg.escalate_after_s
                )
            } else {
                String::new()
            },
            summary(&case.detection)
        );
        let (ttl, detection, mix) = (rule.ttl_s, case.detection.clone(), case.mix.clone());
        match self.build(
            now,
            kind,
            &detection,
            mix.as_ref(),
            ttl,
            Some(id),
            "policy",
            why,
        ) {
            Ok(m) => self.admit(now, m, self.cfg.mode == Mode::Manual),
            Err(r) => self.out.push_back(Decision::Refused(r)),
        }
    }

    /// The mitigation of `kind` for a detection, or why there is none.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        now: Timestamp,
        kind: ActionKind,
        d: &Detection,
        mix: Option<&TrafficMix>,
        ttl_s: u64,
        detection_id: Option<u64>,
        by: &str,
        reason: String,
    ) -> Result<Mitigation, Refusal> {
        let (target, _) = target_of(d);
        let refuse = |guard, why: String| Refusal {
            kind,
            target,
            detection_id,
            requested_by: by.into(),
            guard,
            reason: why,
        };
        let mut reason = reason;
        let (target, rules) = match (kind, d) {
            (ActionKind::Blackhole, _) => (target, Vec::new()),
            (ActionKind::Divert, _) => (self.divert_prefix(target), Vec::new()),
            (ActionKind::Flowspec, Detection::Ddos(a)) => {
                let rules = rules_for(a, self.cfg.flowspec.action, self.cfg.flowspec.max_rules);
                if rules.is_empty() {
                    return Err(refuse(
                        Guard::NoRule,
                        format!("no FlowSpec rule matches {} precisely", a.vector.as_str()),
                    ));
                }
                match mix.and_then(|m| collateral(&rules, m)) {
                    Some(share) if share > self.cfg.flowspec_max_collateral => {
                        return Err(refuse(
                            Guard::Collateral,
                            format!(
                                "the rules would also drop {:.0}% of {target}'s normal traffic \
                                 (more than the {:.0}% allowed)",
                                share * 100.0,
                                self.cfg.flowspec_max_collateral * 100.0
                            ),
                        ))
                    }
                    Some(share) => reason.push_str(&format!(
                        "; would drop {:.1}% of the target's normal traffic",
                        share * 100.0
                    )),
                    None if self.cfg.flowspec_allow_unknown_collateral => {
                        reason.push_str("; collateral not judged: no traffic history")
                    }
                    None => {
                        return Err(refuse(
                            Guard::Collateral,
                            format!("no traffic history of {target} to judge collateral by"),
                        ))
                    }
                }
                (target, rules)
            }
            (ActionKind::Flowspec, _) => {
                return Err(refuse(Guard::NoRule, "FlowSpec is for floods".into()))
            }
            (ActionKind::Ban, Detection::Scan(s)) => (Cidr::host(s.source), Vec::new()),
            // Login abuse and HTTP floods have one outside source: that is what is banned.
            (ActionKind::Ban, d) if d.direction() == Direction::Inbound && d.source().is_some() => {
                (d.address().unwrap_or(target), Vec::new())
            }
            (ActionKind::Ban, _) => {
                return Err(refuse(
                    Guard::NoRule,
                    "a flood's sources are many or spoofed: ban is for one source".into(),
                ))
            }
        };
        Ok(Mitigation {
            id: 0,
            kind,
            target,
            rules,
            detection_id,
            reason,
            requested_by: by.into(),
            approved_by: None,
            created: now,
            expires: secs(now, ttl_s),
            state: MitigationState::Active,
            dry_run: self.cfg.dry_run,
        })
    }

    fn divert_prefix(&self, target: Cidr) -> Cidr {
        let len = if target.addr().is_ipv4() {
            self.cfg.divert.prefix_len_v4
        } else {
            self.cfg.divert.prefix_len_v6
        };
        if target.prefix_len() <= len {
            target
        } else {
            Cidr::new(mask(target.addr(), len), len).unwrap_or(target)
        }
    }

    /// The guards every mitigation passes, whoever asked.
    fn check(&self, now: Timestamp, m: &Mitigation) -> Result<(), Refusal> {
        let refuse = |guard, reason: String| Refusal {
            kind: m.kind,
            target: m.target,
            detection_id: m.detection_id,
            requested_by: m.requested_by.clone(),
            guard,
            reason,
        };
        if m.kind != ActionKind::Divert {
            if let Some(n) = self.cfg.never.iter().find(|n| overlaps(n, &m.target)) {
                return Err(refuse(
                    Guard::Never,
                    format!("{} overlaps {n} in respond.never", m.target),
                ));
            }
        }
        if m.kind == ActionKind::Ban {
            if let Some(p) = self
                .cfg
                .protect
                .iter()
                .find(|p| p.contains(m.target.addr()))
            {
                return Err(refuse(
                    Guard::Protected,
                    format!("{} is in the protected space ({p}): one of ours", m.target),
                ));
            }
        }
        if m.kind == ActionKind::Blackhole
            && !m.target.is_host()
            && !self.cfg.blackhole.allow_prefixes
        {
            return Err(refuse(
                Guard::HostRoutesOnly,
                format!(
                    "{} is a prefix: blackholing it takes every host in it offline \
                     (respond.blackhole.allow_prefixes)",
                    m.target
                ),
            ));
        }
        let active = self
            .mitigations
            .values()
            .filter(|x| x.state == MitigationState::Active)
            .count();
        if active >= self.cfg.max_active {
            return Err(refuse(
                Guard::MaxActive,
                format!("{active} mitigations are active (respond.max_active)"),
            ));
        }
        let minute_ago = now.saturating_sub_millis(60_000);
        let recent = self.recent.iter().filter(|t| **t > minute_ago).count();
        if recent >= self.cfg.max_new_per_minute {
            return Err(refuse(
                Guard::RateLimit,
                format!("{recent} mitigations in the last minute (respond.max_new_per_minute)"),
            ));
        }
        Ok(())
    }

    /// Guards, then made (active) or queued for approval. An identical active mitigation
    /// (same kind and target) is not made twice.
    fn admit(&mut self, now: Timestamp, mut m: Mitigation, needs_approval: bool) {
        let same = self
            .mitigations
            .values()
            .any(|x| x.kind == m.kind && x.target == m.target && x.rules == m.rules);
        if same {
            return;
        }
        if let Err(r) = self.check(now, &m) {
            self.out.push_back(Decision::Refused(r));
            return;
        }
        m.id = self.next_id;
        self.next_id += 1;
        if needs_approval {
            m.state = MitigationState::Pending;
            self.mitigations.insert(m.id, m.clone());
            self.out.push_back(Decision::AwaitApproval(m));
        } else {
            self.start(now, m);
        }
    }

    fn start(&mut self, now: Timestamp, mut m: Mitigation) {
        m.state = MitigationState::Active;
        self.recent.push_back(now);
        while self.recent.len() > self.cfg.max_new_per_minute.max(1) * 2 {
            self.recent.pop_front();
        }
        self.mitigations.insert(m.id, m.clone());
        self.out.push_back(Decision::Apply(m));
    }

    /// An analyst approves a pending mitigation; the guards are checked again.
    pub fn approve(&mut self, now: Timestamp, id: u64, by: &str) -> Result<(), String> {
        let m = match self.mitigations.get(&id) {
            Some(m) if m.state == MitigationState::Pending => m.clone(),
            Some(_) => return Err(format!("mitigation {id} is not waiting for approval")),
            None => return Err(format!("no mitigation {id}")),
        };
        let mut m2 = m;
        m2.approved_by = Some(by.into());
        self.mitigations.remove(&id);
        if let Err(r) = self.check(now, &m2) {
            let reason = r.reason.clone();
            self.out.push_back(Decision::Refused(r));
            return Err(reason);
        }
        self.start(now, m2);
        Ok(())
    }

    /// An operator asks for a mitigation by hand (`rampart mitigate announce`). Same guards
    /// as the policy's; no approval needed (the operator is the approval).
    pub fn request(
        &mut self,
        now: Timestamp,
        kind: ActionKind,
        target: Cidr,
        ttl_s: u64,
        by: &str,
    ) -> Result<Mitigation, Refusal> {
        let rules = if kind == ActionKind::Flowspec {
            vec![FlowRule::toward(target, self.cfg.flowspec.action)]
        } else {
            Vec::new()
        };
        let mut m = Mitigation {
            id: 0,
            kind,
            target,
            rules,
            detection_id: None,
            reason: format!("asked for by {by}"),
            requested_by: by.into(),
            approved_by: Some(by.into()),
            created: now,
            expires: secs(now, ttl_s.max(1)),
            state: MitigationState::Active,
            dry_run: self.cfg.dry_run,
        };
        if let Some(x) = self
            .mitigations
            .values()
            .find(|x| x.kind == kind && x.target == target && x.rules == m.rules)
        {
            return Ok(x.clone());
        }
        if let Err(r) = self.check(now, &m) {
            self.out.push_back(Decision::Refused(r.clone()));
            return Err(r);
        }
        m.id = self.next_id;
        self.next_id += 1;
        self.start(now, m.clone());
        Ok(m)
    }

    /// Withdraws by id, or every mitigation whose target is `target`.
    pub fn withdraw(&mut self, target: Option<Cidr>, id: Option<u64>, by: &str) -> Vec<Mitigation> {
        let ids: Vec<u64> = self
            .mitigations
            .values()
            .filter(|m| Some(m.id) == id || Some(m.target) == target)
            .map(|m| m.id)
            .collect();
        let mut out = Vec::new();
        for i in ids {
            if let Some(m) = self.mitigations.get(&i) {
                out.push(m.clone());
            }
            self.remove(i, format!("withdrawn by {by}"));
        }
        out
    }

    /// The flow action in force (for executors that render rules).
    pub fn flow_action(&self) -> FlowAction {
        self.cfg.flowspec.action
    }
}

fn summary(d: &Detection) -> String {
    match d {
        Detection::Ddos(a) => format!(
            "{} toward {} at {} pps",
            a.vector.as_str(),
            a.target,
            a.peak_pps
        ),
        Detection::Scan(s) => format!(
            "{} scan of {} by {}",
            s.scan_type.as_str(),
            s.target,
            s.source
        ),
        d => format!(
            "{} by {}",
            d.kind(),
            d.source()
                .map_or("many sources".to_string(), |a| a.to_string())
        ),
    }
}

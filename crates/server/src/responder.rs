//! The responder: runs the response policy on what the recorder saved, carries out its
//! decisions (nftables now; BGP through the speaker when peers are configured), and keeps
//! every step in the store, the audit log, the detection's timeline and the live stream.
//! Operators reach the same policy, and its guards, through [`Command`]s from the API.

use crate::shared::{LiveEvent, Shared};
use rampart_bgp::{PeerResult, Report, Speaker};
use rampart_model::{ActionKind, Cidr, Detection, Mitigation, MitigationState, Timestamp};
use rampart_notify::{EventKind, Notification, Notifier};
use rampart_respond::{
    routes_for, Decision, NftConfig, Nftables, Phase, Policy, Refusal, RespondConfig, TrafficMix,
};
use rampart_store::{AuditEntry, MitigationQuery, Store, TimelineEntry};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A saved detection, for the policy.
#[derive(Debug)]
pub struct Input {
    pub id: u64,
    pub detection: Detection,
    pub phase: Phase,
    pub mix: Option<TrafficMix>,
}

/// What operators ask of the responder through the API.
#[derive(Debug)]
pub enum Command {
    Request {
        kind: ActionKind,
        target: Cidr,
        ttl_s: u64,
        by: String,
        reply: oneshot::Sender<Result<Mitigation, Refusal>>,
    },
    Withdraw {
        target: Option<Cidr>,
        id: Option<u64>,
        by: String,
        reply: oneshot::Sender<Vec<Mitigation>>,
    },
    Approve {
        id: u64,
        by: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Reject {
        id: u64,
        by: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Reconfigure(Box<RespondConfig>),
}

pub struct Responder {
    policy: Policy,
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    nft: Option<Arc<Nftables>>,
    nft_flowspec: bool,
    /// The BGP speaker, when peers are configured.
    bgp: Option<Arc<Speaker>>,
    notifier: Arc<Notifier>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

impl Responder {
    /// Loads the mitigations left active by the previous run and prepares the firewall.
    pub async fn new(
        cfg: RespondConfig,
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        notifier: Arc<Notifier>,
    ) -> Self {
        let nft_cfg = cfg.nftables.clone();
        let mut policy = Policy::new(cfg);
        let s = store.clone();
        let restored = blocking(move || {
            let max = s.max_mitigation_id().map_err(|e| e.to_string())?;
            let mut active = Vec::new();
            for state in ["active", "pending"] {
                active.extend(
                    s.mitigations(&MitigationQuery {
                        state: Some(state.into()),
                        limit: 10_000,
                        ..Default::default()
                    })
                    .map_err(|e| e.to_string())?,
                );
            }
            Ok((max, active))
        })
        .await;
        match restored {
            Ok((max, active)) => {
                policy.set_next_id(max);
                if !active.is_empty() {
                    tracing::info!(mitigations = active.len(), "restored active mitigations");
                }
                for m in active {
                    policy.restore(m);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading mitigations"),
        }
        let nft = Self::firewall(&nft_cfg).await;
        let bgp = Self::speaker(&policy).await;
        shared.set_bgp(bgp.clone());
        let me = Responder {
            policy,
            store,
            shared,
            nft,
            nft_flowspec: nft_cfg.flowspec,
            bgp,
            notifier,
        };
        // The firewall forgets nothing on our restart, but it may have been rebooted. (The
        // speaker got the restored routes at its start.)
        let live: Vec<Mitigation> = me
            .policy
            .mitigations()
            .filter(|m| m.state == MitigationState::Active && !m.dry_run)
            .filter(|m| m.kind == ActionKind::Ban || me.nft_flowspec)
            .cloned()
            .collect();
        for m in live {
            if let Err(e) = me.apply(&m).await.map(|_| ()) {
                tracing::warn!(id = m.id, error = %e, "re-applying a restored mitigation");
            }
        }
        me
    }

    /// Starts the speaker with the routes of the active mitigations it must carry.
    async fn speaker(policy: &Policy) -> Option<Arc<Speaker>> {
        let cfg = policy.config();
        if cfg.bgp.peers.is_empty() {
            return None;
        }
        let routes: Vec<_> = policy
            .mitigations()
            .filter(|m| m.state == MitigationState::Active && !m.dry_run)
            .filter_map(|m| routes_for(m, cfg).ok())
            .flatten()
            .collect();
        match Speaker::start_with_routes(cfg.bgp.clone(), routes).await {
            Ok(s) => {
                tracing::info!(peers = cfg.bgp.peers.len(), "BGP speaker started");
                Some(Arc::new(s))
            }
            Err(e) => {
                tracing::warn!(error = %e, "BGP speaker not started: announcements will fail");
                None
            }
        }
    }

    async fn firewall(cfg: &NftConfig) -> Option<Arc<Nftables>> {
        if !cfg.enabled {
            return None;
        }
        let nft = Arc::new(Nftables::new(cfg.clone()));
        let n = nft.clone();
        match blocking(move || n.ensure().map_err(|e| e.to_string())).await {
            Ok(()) => {
                tracing::info!(table = %cfg.table, "nftables table ready");
                Some(nft)
            }
            Err(e) => {
                tracing::warn!(error = %e, "nftables unavailable: bans will fail until fixed");
                Some(nft)
            }
        }
    }

    pub async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                i = inputs.recv() => match i {
                    Some(i) => {
                        let now = crate::clock::now();
                        self.policy.on_detection(now, i.id, &i.detection, i.phase, i.mix.as_ref());
                    }
                    None => break,
                },
                c = commands.recv() => match c {
                    Some(c) => self.command(c).await,
                    None => break,
                },
                _ = tick.tick() => self.policy.tick(crate::clock::now()),
            }
            self.settle().await;
        }
        if let Some(bgp) = self.bgp.take() {
            // Withdraws or keeps our routes as respond.bgp.on_shutdown says.
            bgp.shutdown().await;
        }
    }

    /// Carries out every decision taken so far.
    async fn settle(&mut self) {
        while let Some(d) = self.policy.poll_decision() {
            self.execute(d).await;
        }
    }

    /// Operators' commands are answered once their decisions are carried out, so that the
    /// answer means the route is announced or the ban installed.
    async fn command(&mut self, c: Command) {
        let now = crate::clock::now();
        match c {
            Command::Request {
                kind,
                target,
                ttl_s,
                by,
                reply,
            } => {
                let r = self.policy.request(now, kind, target, ttl_s, &by);
                self.settle().await;
                let _ = reply.send(r);
            }
            Command::Withdraw {
                target,
                id,
                by,
                reply,
            } => {
                let r = self.policy.withdraw(target, id, &by);
                self.settle().await;
                let _ = reply.send(r);
            }
            Command::Approve { id, by, reply } => {
                let r = self.policy.approve(now, id, &by);
                self.settle().await;
                let _ = reply.send(r);
            }
            Command::Reject { id, by, reply } => {
                let found = self
                    .policy
                    .mitigation(id)
                    .is_some_and(|m| m.state == MitigationState::Pending);
                let r = if found {
                    self.policy
                        .withdraw(None, Some(id), &format!("{by} (rejected)"));
                    Ok(())
                } else {
                    Err(format!("mitigation {id} is not waiting for approval"))
                };
                self.settle().await;
                let _ = reply.send(r);
            }
            Command::Reconfigure(cfg) => {
                let (nft_changed, bgp_changed) = (
                    cfg.nftables != self.policy.config().nftables,
                    cfg.bgp != self.policy.config().bgp,
                );
                if nft_changed {
                    self.nft_flowspec = cfg.nftables.flowspec;
                    self.nft = Self::firewall(&cfg.nftables).await;
                }
                self.policy.set_config(*cfg);
                if bgp_changed {
                    if let Some(old) = self.bgp.take() {
                        old.shutdown().await;
                    }
                    self.bgp = Self::speaker(&self.policy).await;
                    self.shared.set_bgp(self.bgp.clone());
                }
            }
        }
    }

    /// Carries out what the mitigation asks of this host's executors; says what was done:
    /// `ok`, or `no_peers` for an announcement with no BGP peer to announce it to.
    async fn apply(&self, m: &Mitigation) -> Result<&'static str, String> {
        let local = match (m.kind, &self.nft) {
            // No local firewall: the bans are enforced by the bouncers that pull them from
            // /v1/decisions/stream.
            (ActionKind::Ban, None) => return Ok("bouncers"),
            (ActionKind::Ban, Some(nft)) => Some(nft.clone()),
            (ActionKind::Flowspec, Some(nft)) if self.nft_flowspec => Some(nft.clone()),
            _ => None,
        };
        if let Some(nft) = local {
            let m = m.clone();
            blocking(move || {
                let ttl = m
                    .expires
                    .as_secs()
                    .saturating_sub(crate::clock::now().as_secs())
                    .max(1);
                match m.kind {
                    ActionKind::Ban => nft.ban(m.target.addr(), ttl),
                    _ => nft.add_rules(&m),
                }
                .map_err(|e| e.to_string())
            })
            .await?;
        }
        if m.kind == ActionKind::Ban {
            return Ok("ok");
        }
        let Some(bgp) = &self.bgp else {
            // Nobody to announce to (a local FlowSpec drop rule may have done the job).
            return Ok(if self.nft_flowspec && m.kind == ActionKind::Flowspec {
                "ok"
            } else {
                "no_peers"
            });
        };
        let routes = routes_for(m, self.policy.config())?;
        let report = bgp.announce(routes).await.map_err(|e| e.to_string())?;
        bgp_outcome(&report)
    }

    async fn undo(&self, m: &Mitigation) -> Result<(), String> {
        if let (Some(bgp), false) = (&self.bgp, m.kind == ActionKind::Ban) {
            if let Ok(routes) = routes_for(m, self.policy.config()) {
                let report = bgp.withdraw(routes.iter().map(|r| r.key()).collect()).await;
                bgp_outcome(&report)?;
            }
        }
        let Some(nft) = self.nft.clone() else {
            return Ok(());
        };
        let m = m.clone();
        let flowspec = self.nft_flowspec;
        blocking(move || match m.kind {
            ActionKind::Ban => nft.unban(m.target.addr()).map_err(|e| e.to_string()),
            ActionKind::Flowspec if flowspec => nft.remove_rules(m.id).map_err(|e| e.to_string()),
            _ => Ok(()),
        })
        .await
    }

    /// Where this mitigation goes, for the audit: what executed it.
    fn carried_by(&self, m: &Mitigation) -> &'static str {
        match m.kind {
            ActionKind::Ban => "nftables",
            ActionKind::Flowspec if self.nft.is_some() && self.nft_flowspec => "nftables",
            _ => "bgp",
        }
    }

    async fn execute(&mut self, d: Decision) {
        let now = crate::clock::now();
        let (action, m, result, detail) = match d {
            Decision::Apply(m) => {
                let result = if m.dry_run {
                    Ok("dry_run")
                } else {
                    self.apply(&m).await
                };
                let (result, detail) = match result {
                    Ok(r) => (r.to_string(), json!({"via": self.carried_by(&m)})),
                    Err(e) => ("failed".to_string(), json!({"error": e})),
                };
                ("mitigation.apply", m, result, detail)
            }
            Decision::Renew(m) => {
                let result = if m.dry_run || m.kind != ActionKind::Ban {
                    Ok(())
                } else {
                    self.apply(&m).await.map(|_| ())
                };
                let (r, detail) = match result {
                    Ok(()) => ("ok", json!({"expires": m.expires})),
                    Err(e) => ("failed", json!({"error": e})),
                };
                ("mitigation.renew", m, r.to_string(), detail)
            }
            Decision::Withdraw { mitigation, reason } => {
                let result = if mitigation.dry_run {
                    Ok(())
                } else {
                    self.undo(&mitigation).await
                };
                let (r, detail) = match result {
                    Ok(()) => (
                        if mitigation.dry_run { "dry_run" } else { "ok" },
                        json!({"reason": reason}),
                    ),
                    Err(e) => ("failed", json!({"reason": reason, "error": e})),
                };
                ("mitigation.withdraw", mitigation, r.to_string(), detail)
            }
            Decision::AwaitApproval(m) => (
                "mitigation.pending",
                m,
                "pending".to_string(),
                json!({"needs": "an analyst's approval"}),
            ),
            Decision::Refused(r) => {
                self.refused(now, r).await;
                return;
            }
        };
        self.record(now, action, &m, &result, detail).await;
    }

    async fn record(
        &self,
        now: Timestamp,
        action: &str,
        m: &Mitigation,
        result: &str,
        detail: serde_json::Value,
    ) {
        let actor = m
            .approved_by
            .clone()
            .unwrap_or_else(|| m.requested_by.clone());
        let summary = format!(
            "{} {} {}{}: {}",
            action.trim_start_matches("mitigation."),
            m.kind,
            m.target,
            if m.dry_run { " (dry run)" } else { "" },
            result
        );
        if result == "failed" {
            tracing::warn!(id = m.id, %summary, ?detail, "mitigation failed");
        } else {
            tracing::info!(id = m.id, %summary, "mitigation");
        }
        let entry = AuditEntry {
            at: now,
            actor,
            action: action.into(),
            subject: m.target.to_string(),
            detection_id: m.detection_id,
            result: result.into(),
            detail: json!({"mitigation": m, "detail": detail, "reason": m.reason}),
        };
        let timeline = TimelineEntry {
            at: now,
            event: action.into(),
            summary: summary.clone(),
            detail: json!({"mitigation_id": m.id, "result": result}),
        };
        self.persist(
            Some(m.clone()),
            entry,
            m.detection_id.map(|id| (id, timeline)),
        )
        .await;
        let json = serde_json::to_value(m).unwrap_or_default();
        let kinds: &[EventKind] = match (action, result) {
            (_, "failed") => &[EventKind::MitigationFailed],
            ("mitigation.apply", _) if m.reason.contains("escalated") => {
                &[EventKind::AttackEscalated, EventKind::MitigationApplied]
            }
            ("mitigation.apply", _) => &[EventKind::MitigationApplied],
            ("mitigation.withdraw", _) => &[EventKind::MitigationWithdrawn],
            ("mitigation.pending", _) => &[EventKind::MitigationPending],
            _ => &[],
        };
        for &k in kinds {
            self.tell(k, json.clone());
        }
        self.publish(action, result, json);
    }

    fn tell(&self, kind: EventKind, mitigation: serde_json::Value) {
        self.notifier.notify(Notification::new(
            kind,
            crate::clock::now(),
            self.notifier.daemon_name(),
            None,
            Some(mitigation),
            None,
        ));
    }

    /// Saves a mitigation's state, its audit entry and its detection's timeline entry.
    async fn persist(
        &self,
        m: Option<Mitigation>,
        entry: AuditEntry,
        timeline: Option<(u64, TimelineEntry)>,
    ) {
        let (store, now) = (self.store.clone(), entry.at);
        let saved = tokio::task::spawn_blocking(move || -> rampart_store::Result<()> {
            if let Some(m) = &m {
                store.save_mitigation(m, now)?;
            }
            store.append_audit(&entry)?;
            if let Some((id, t)) = &timeline {
                store.add_timeline(*id, t)?;
            }
            Ok(())
        })
        .await;
        if !matches!(saved, Ok(Ok(()))) {
            self.shared.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("could not record a mitigation step");
        }
    }

    fn publish(&self, action: &str, result: &str, mitigation: serde_json::Value) {
        let _ = self.shared.events.send(LiveEvent::Mitigation {
            action: action.into(),
            result: result.into(),
            mitigation,
        });
    }

    async fn refused(&self, now: Timestamp, r: Refusal) {
        tracing::info!(kind = %r.kind, target = %r.target, guard = r.guard.as_str(), reason = %r.reason, "mitigation refused");
        let entry = AuditEntry {
            at: now,
            actor: r.requested_by.clone(),
            action: format!("mitigation.{}", r.kind),
            subject: r.target.to_string(),
            detection_id: r.detection_id,
            result: "refused".into(),
            detail: json!({"guard": r.guard, "reason": r.reason}),
        };
        let timeline = TimelineEntry {
            at: now,
            event: "mitigation.refused".into(),
            summary: format!(
                "{} {} refused ({}): {}",
                r.kind,
                r.target,
                r.guard.as_str(),
                r.reason
            ),
            detail: json!({"guard": r.guard}),
        };
        self.persist(None, entry, r.detection_id.map(|id| (id, timeline)))
            .await;
        self.tell(
            EventKind::MitigationRefused,
            serde_json::to_value(&r).unwrap_or_default(),
        );
        self.publish(
            "mitigation.refused",
            r.guard.as_str(),
            serde_json::to_value(&r).unwrap_or_default(),
        );
    }
}

/// What the peers did with an announcement: `ok` when at least one took it, `queued` when
/// none is up yet (it goes out when a session comes up), an error when all failed.
fn bgp_outcome(report: &Report) -> Result<&'static str, String> {
    if report.sent_to() > 0 {
        return Ok("ok");
    }
    let failed: Vec<String> = report
        .peers
        .iter()
        .filter_map(|p| match &p.result {
            PeerResult::Failed(e) => Some(format!("{}: {e}", p.peer)),
            _ => None,
        })
        .collect();
    if !failed.is_empty() && failed.len() == report.peers.len() {
        return Err(failed.join("; "));
    }
    Ok("queued")
}

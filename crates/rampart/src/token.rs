//! `rampart token`: API tokens, made and revoked straight in the store, so that it works
//! whether or not the daemon runs (SQLite lets both open the file).

use crate::TokenAction;
use anyhow::{bail, Context, Result};
use rampart_config::Config;
use rampart_store::{AuditEntry, SqliteStore, Store};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> rampart_model::Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rampart_model::Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}

pub fn run(action: TokenAction, config: &Config) -> Result<()> {
    let path = &config.store.path;
    let store = SqliteStore::open(path).with_context(|| format!("store {}", path.display()))?;
    let audit = |action: &str, subject: &str, detail| {
        store.append_audit(&AuditEntry {
            at: now(),
            actor: "cli".into(),
            action: action.into(),
            subject: subject.into(),
            detection_id: None,
            result: "ok".into(),
            detail,
        })
    };
    match action {
        TokenAction::Create { role, name } => {
            let t = now();
            let name = name.unwrap_or_else(|| format!("{role}-{}", t.as_secs()));
            let made = store.create_token(&name, role, t)?;
            audit(
                "token.create",
                &name,
                json!({"id": made.info.id, "role": role}),
            )?;
            println!(
                "made {role} token '{name}' (id {}) in {}; it is shown only now:",
                made.info.id,
                path.display()
            );
            println!("{}", made.secret);
        }
        TokenAction::List => {
            let tokens = store.tokens()?;
            if tokens.is_empty() {
                println!("no tokens (make one: rampart token create --role admin)");
            }
            for t in tokens {
                let used = t
                    .last_used
                    .map_or("never used".to_string(), |u| format!("last used {u}"));
                println!(
                    "{:>4}  {:<8} {:<24} made {}, {used}",
                    t.id, t.role, t.name, t.created
                );
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke_token(id)? {
                bail!("no live token {id} (see rampart token list)");
            }
            audit("token.revoke", &id.to_string(), json!({}))?;
            println!("revoked token {id}; the daemon refuses it within 5 seconds");
        }
    }
    Ok(())
}

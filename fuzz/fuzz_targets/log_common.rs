// Shared by the log targets: the bounds every event keeps.
use rampart_logs::{LogEvent, Timestamp};

pub fn check(e: &LogEvent) {
    match e {
        LogEvent::Auth(a) => {
            assert!(a.attempts >= 1);
            assert!(a.user.as_ref().is_none_or(|u| u.len() <= 128 && !u.is_empty()));
            assert!(a.reason.as_ref().is_none_or(|r| r.len() <= 256));
            assert!(a.host.as_ref().is_none_or(|h| h.len() <= 255));
        }
        LogEvent::Http(h) => {
            assert!(h.path.len() <= 1024);
            assert!(h.method.as_ref().is_none_or(|m| m.len() <= 16));
            assert!(h.user_agent.as_ref().is_none_or(|a| a.len() <= 256));
            assert!(h.vhost.as_ref().is_none_or(|v| v.len() <= 255));
        }
        LogEvent::Flow(r) => {
            assert_eq!(r.packets >= 1, true);
        }
    }
}

#[allow(dead_code)]
pub fn to_millis(mut e: LogEvent) -> LogEvent {
    let ms = |t: Timestamp| Timestamp::from_millis(t.as_millis());
    match &mut e {
        LogEvent::Auth(a) => a.time = ms(a.time),
        LogEvent::Http(h) => h.time = ms(h.time),
        LogEvent::Flow(_) => {}
    }
    e
}

//! How stored things look in the API: detections shaped like `rampart analyze`'s, plus id,
//! state, update time and timeline.

use rampart_store::StoredDetection;
use serde_json::{Map, Value};

/// The detection as `analyze --format json` writes it, with `id`, `state`, `updated` and
/// (when loaded) `timeline` added.
pub fn detection_json(d: &StoredDetection) -> Value {
    let mut obj = match &d.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    obj.insert("id".into(), Value::from(d.id));
    obj.insert("state".into(), Value::from(d.state.as_str()));
    obj.insert("updated".into(), Value::from(d.updated.to_string()));
    obj.insert(
        "timeline".into(),
        serde_json::to_value(&d.timeline).unwrap_or(Value::Null),
    );
    Value::Object(obj)
}

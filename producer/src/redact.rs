//! Secret-looking values in job payloads, replaced before a payload is shown (CLI, admin
//! API, dashboard): any object key naming a token, secret, password, JWT, key or credential,
//! at any depth.

use serde_json::Value;

pub const REDACTED: &str = "[REDACTED]";

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "jwt", "api_key", "apikey", "authorization", "credential", "private_key"]
        .iter()
        .any(|s| k.contains(s))
        || k == "key"
}

/// Redacts `value` in place.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if secret_key(k) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let mut v = json!({"a": 1, "accessToken": "t", "nested": [{"client_secret": "s", "name": "x"}], "key": "k", "monkey": "m"});
        redact(&mut v);
        assert_eq!(
            v,
            json!({"a": 1, "accessToken": REDACTED, "nested": [{"client_secret": REDACTED, "name": "x"}], "key": REDACTED, "monkey": "m"})
        );
    }
}

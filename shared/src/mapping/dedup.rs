//! Personal contacts that share an email address (the same person entered twice, in one
//! address book or in two) must not become two leads.
//!
//! The rule: **the first contact synced with a given email (compared trimmed and
//! lower-case) owns the lead for it**; a later contact with the same email is a duplicate
//! of that one: the worker does not create a lead for it and records "duplicate of contact
//! <id>". The lead's external id stays per contact (`ringcentral:contact:<id>` of the
//! owner), as the contract's examples have it. Contacts without an email never collide.
//! The claim lives in Redis (`{prefix}:lead:email:<email>` → contact id), so it holds
//! across jobs, workers and incremental syncs; when the owning contact is deleted at the
//! source the worker releases it and the next contact with that email takes over.
//!
//! Not handled: a contact whose email *changes* keeps its old claim until released.

use snapsync_queue::RedisConn;

/// The verdict for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailClaim {
    /// This contact owns its email's lead (or has no email): upsert its lead.
    Owner,
    /// Another contact owns this email's lead.
    DuplicateOf { contact_id: String },
}

/// Trimmed, lower-case email; `None` when blank.
pub fn normalise_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (!e.is_empty()).then_some(e)
}

fn key(prefix: &str, email: &str) -> String {
    format!("{prefix}:lead:email:{email}")
}

/// Claims `email` for `contact_id` unless another contact holds it.
pub async fn claim_lead_email(
    conn: &mut RedisConn,
    prefix: &str,
    email: Option<&str>,
    contact_id: &str,
) -> Result<EmailClaim, redis::RedisError> {
    let Some(email) = email.and_then(normalise_email) else {
        return Ok(EmailClaim::Owner);
    };
    // SET NX then GET in one script, so two workers racing for one email agree.
    let owner: String = redis::Script::new(
        "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end return redis.call('GET', KEYS[1])",
    )
    .key(key(prefix, &email))
    .arg(contact_id)
    .invoke_async(conn)
    .await?;
    Ok(if owner == contact_id { EmailClaim::Owner } else { EmailClaim::DuplicateOf { contact_id: owner } })
}

/// Releases `email` if `contact_id` holds it (the contact was deleted at the source).
pub async fn release_lead_email(
    conn: &mut RedisConn,
    prefix: &str,
    email: &str,
    contact_id: &str,
) -> Result<bool, redis::RedisError> {
    let Some(email) = normalise_email(email) else {
        return Ok(false);
    };
    let released: i64 = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    )
    .key(key(prefix, &email))
    .arg(contact_id)
    .invoke_async(conn)
    .await?;
    Ok(released == 1)
}

//! Issue 4, "Done when" 3–4, through the real processes: `snapsync serve` (the scheduler at
//! `every = "10s"`, the webhook receiver) and two `snapsync-worker` processes. In its own
//! test binary: two systems in one process starve each other into RingCentral 429s.

use crate::pipeline_support::{count, find, id_text, tags, Options, System, ADMIN_EXT};
use reqwest::Method;
use serde_json::json;

const LOCATIONS: usize = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn site_rename_emergency_location_delete_and_voicemail_arrive() {
    let sys = System::start(Options::default()).await;
    sys.records_until("the locations", |r| count(r, "locations") >= LOCATIONS).await;

    // 3. Site renamed → location renamed; emergency location deleted → tagged (the configured action).
    sys.rc(Method::PATCH, "/sandbox/sites/400000202", Some(json!({"name": "NYC Office"}))).await;
    sys.rc(Method::DELETE, "/sandbox/emergency-locations/400000306", None).await;
    let records = sys
        .records_until("the rename and the deletion", |r| {
            let site = find(r, "locations", "external_id", "ringcentral:site:400000202");
            let gone = find(r, "locations", "external_id", "ringcentral:emergency-location:400000306");
            site.first().is_some_and(|s| s["name"] == "NYC Office")
                && gone.first().is_some_and(|g| tags(g).contains(&"deleted".to_string()))
        })
        .await;
    assert_eq!(count(&records, "locations"), LOCATIONS, "`tag` keeps the deleted location's record");

    // 4. Voicemail from a lead's phone → a follow-up for that lead's owner. The lead comes from
    // the initial sync: a lead made by a later contacts tick would depend on those ticks
    // draining, which they do not reliably (see the report on 429 retries).
    let records = sys
        .records_until("a lead with a phone", |r| {
            r["leads"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l["phone"].as_str().is_some_and(|p| p.starts_with("+1")))
        })
        .await;
    let leads: Vec<&serde_json::Value> = records["leads"].as_array().into_iter().flatten().collect();
    // A phone no other lead has, so the caller is one lead.
    let lead = leads
        .iter()
        .find(|l| {
            let phone = l["phone"].as_str().unwrap_or_default();
            phone.starts_with("+1") && leads.iter().filter(|o| o["phone"].as_str() == Some(phone)).count() == 1
        })
        .map(|l| (*l).clone())
        .unwrap_or_default();
    let phone = lead["phone"].as_str().unwrap_or_default().to_string();
    let message = sys
        .rc(Method::POST, "/sandbox/voicemail", Some(json!({"extensionId": ADMIN_EXT, "from": {"phoneNumber": phone}})))
        .await;
    let external = format!("ringcentral:voicemail:{}", id_text(&message["id"]));
    let records =
        sys.records_until("the follow-up", |r| find(r, "activities", "external_id", &external).len() == 1).await;
    let activity = find(&records, "activities", "external_id", &external)[0];
    assert_eq!(activity["type"], "follow_up", "{activity}");
    assert_eq!(activity["owner"], lead["owner"], "the lead's owner gets the follow-up: {activity} / {lead}");
    assert_eq!(activity["lead_id"], lead["lead_id"], "{activity}");
    sys.stop().await;
}

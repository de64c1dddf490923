//! Issue 4, "Done when" 3–4, through the real processes: `snapsync serve` (the scheduler at
//! `every = "10s"`, the webhook receiver) and two `snapsync-worker` processes. In its own
//! test binary: two systems in one process starve each other into RingCentral 429s.

mod pipeline_support;

use pipeline_support::{count, find, id_text, tags, Options, System, ADMIN_EXT};
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

    // 4. Voicemail → a follow-up for the owner of the caller's lead (Hooli → own_03).
    let created = sys
        .rc(
            Method::POST,
            &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"),
            Some(json!({"firstName": "Vera", "lastName": "Lind", "email": "vera@hooli.example.io",
                        "mobilePhone": "(415) 555-0142"})),
        )
        .await;
    let id = id_text(&created["id"]);
    let records = sys.records_until("Vera's lead", |r| find(r, "leads", "contact_id", &id).len() == 1).await;
    let lead = find(&records, "leads", "contact_id", &id)[0].clone();
    assert_eq!(lead["owner"], "own_03", "{lead}");
    let message = sys
        .rc(
            Method::POST,
            "/sandbox/voicemail",
            Some(json!({"extensionId": ADMIN_EXT, "from": {"phoneNumber": "+14155550142"}})),
        )
        .await;
    let external = format!("ringcentral:voicemail:{}", id_text(&message["id"]));
    let records =
        sys.records_until("the follow-up", |r| find(r, "activities", "external_id", &external).len() == 1).await;
    let activity = find(&records, "activities", "external_id", &external)[0];
    assert_eq!(activity["type"], "follow_up", "{activity}");
    assert_eq!(activity["owner"], "own_03", "the lead's owner gets the follow-up: {activity}");
    assert_eq!(activity["lead_id"], lead["lead_id"], "{activity}");
    sys.stop().await;
}

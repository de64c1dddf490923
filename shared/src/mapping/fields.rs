//! What a mapping may read and write: the RingCentral field paths of each resource (from
//! RingCentral's published API reference and `docs/ringcentral-sandbox.md`) and the Snapshots
//! fields of each collection (from `docs/snapshots-api.md`), with the rule Snapshots
//! enforces on each, so a mapped record can be made acceptable before it is sent.

use crate::snapshots::Collection;

/// A mapping resource: one kind of RingCentral record mapped to one Snapshots collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    LocationFromSite,
    LocationFromEmergencyLocation,
    Account,
    LeadFromContact,
    FollowUpFromVoicemail,
    /// An ended call (its call-log record, with what the worker adds: see [`CALL`]).
    ActivityFromCall,
    /// An inbound SMS or fax (its message-store record).
    ActivityFromMessage,
}

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::LocationFromSite,
        Resource::LocationFromEmergencyLocation,
        Resource::Account,
        Resource::LeadFromContact,
        Resource::FollowUpFromVoicemail,
        Resource::ActivityFromCall,
        Resource::ActivityFromMessage,
    ];

    /// Whether a mapping file may leave the resource out (it then maps as the built-in
    /// default does): the resources added after files were first written.
    pub fn optional(self) -> bool {
        matches!(self, Resource::ActivityFromCall | Resource::ActivityFromMessage)
    }

    /// The name used in mapping files.
    pub fn name(self) -> &'static str {
        match self {
            Resource::LocationFromSite => "location_from_site",
            Resource::LocationFromEmergencyLocation => "location_from_emergency_location",
            Resource::Account => "account",
            Resource::LeadFromContact => "lead_from_contact",
            Resource::FollowUpFromVoicemail => "follow_up_from_voicemail",
            Resource::ActivityFromCall => "activity_from_call",
            Resource::ActivityFromMessage => "activity_from_message",
        }
    }

    pub fn from_name(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn collection(self) -> Collection {
        match self {
            Resource::LocationFromSite | Resource::LocationFromEmergencyLocation => Collection::Locations,
            Resource::Account => Collection::Accounts,
            Resource::LeadFromContact => Collection::Leads,
            Resource::FollowUpFromVoicemail | Resource::ActivityFromCall | Resource::ActivityFromMessage => {
                Collection::Activities
            }
        }
    }

    /// The RingCentral record this resource reads, for messages.
    pub fn source_name(self) -> &'static str {
        match self {
            Resource::LocationFromSite => "site (SiteInfo)",
            Resource::LocationFromEmergencyLocation => "emergency location",
            Resource::Account => "account (account info + business address + operatorExtension)",
            Resource::LeadFromContact => "personal contact",
            Resource::FollowUpFromVoicemail => "voicemail message",
            Resource::ActivityFromCall => {
                "call-log record (+ otherParty, extensionId, siteId, callResult, dialledNumber)"
            }
            Resource::ActivityFromMessage => "SMS or fax message (+ extensionId, siteId)",
        }
    }

    /// Known source paths; an entry ending in `.*` admits any path below it.
    pub fn source_fields(self) -> &'static [&'static str] {
        match self {
            Resource::LocationFromSite => SITE,
            Resource::LocationFromEmergencyLocation => EMERGENCY_LOCATION,
            Resource::Account => ACCOUNT,
            Resource::LeadFromContact => CONTACT,
            Resource::FollowUpFromVoicemail => VOICEMAIL,
            Resource::ActivityFromCall => CALL,
            Resource::ActivityFromMessage => MESSAGE,
        }
    }

    pub fn knows_source(self, path: &str) -> bool {
        self.source_fields().iter().any(|known| match known.strip_suffix(".*") {
            Some(open) => path == open || path.strip_prefix(open).is_some_and(|rest| rest.starts_with('.')),
            None => *known == path,
        })
    }
}

macro_rules! paths {
    ($($p:literal),* $(,)?) => { &[$($p),*] };
}

#[rustfmt::skip]
const SITE: &[&str] = paths![
    "id", "uri", "name", "extensionNumber", "callerIdName", "email", "code", "siteAccess",
    "businessAddress.country", "businessAddress.state", "businessAddress.city", "businessAddress.street",
    "businessAddress.zip", "operator.id", "operator.uri", "operator.extensionNumber", "operator.name",
    "regionalSettings.*",
];

#[rustfmt::skip]
const EMERGENCY_LOCATION: &[&str] = paths![
    "id", "uri", "name", "site.id", "site.name", "addressStatus", "usageStatus", "syncStatus", "addressType",
    "visibility", "owners.*", "addressFormatId", "addressFormatStatus", "trusted", "address.country",
    "address.countryId", "address.countryIsoCode", "address.countryName", "address.state", "address.stateId",
    "address.stateIsoCode", "address.stateName", "address.city", "address.street", "address.street2", "address.zip",
    "address.customerName", "address.outOfCountry", "address.buildingName", "address.streetType",
    "address.buildingNumber",
];

/// The account source is one object the worker composes (see `mapping::account_source`):
/// account info, the business-address resource's fields, and the operator extension.
#[rustfmt::skip]
const ACCOUNT: &[&str] = paths![
    "id", "uri", "bsid", "mainNumber", "partnerId", "setupWizardState", "status", "federated", "outboundCallPrefix",
    "cfid", "operator.id", "operator.uri", "operator.extensionNumber", "operator.partnerId", "serviceInfo.*",
    "signupInfo.*", "statusInfo.reason", "statusInfo.comment", "statusInfo.till", "regionalSettings.*", "limits.*",
    "company", "email", "mainSiteName", "businessAddress.country", "businessAddress.state", "businessAddress.city",
    "businessAddress.street", "businessAddress.zip", "operatorExtension.id", "operatorExtension.name",
    "operatorExtension.extensionNumber", "operatorExtension.contact.firstName",
    "operatorExtension.contact.lastName", "operatorExtension.contact.name", "operatorExtension.contact.company",
    "operatorExtension.contact.jobTitle", "operatorExtension.contact.email",
    "operatorExtension.contact.businessPhone", "operatorExtension.contact.mobilePhone",
    "operatorExtension.contact.department", "operatorExtension.contact.businessAddress.*",
];

#[rustfmt::skip]
const CONTACT: &[&str] = paths![
    "id", "uri", "availability", "email", "email2", "email3", "notes", "company", "firstName", "lastName",
    "middleName", "nickName", "jobTitle", "birthday", "webPage", "homePhone", "homePhone2", "businessPhone",
    "businessPhone2", "mobilePhone", "businessFax", "companyPhone", "assistantPhone", "carPhone", "otherPhone",
    "otherFax", "callbackPhone", "ringtoneIndex", "appInfo.*", "businessAddress.country", "businessAddress.state",
    "businessAddress.city", "businessAddress.street", "businessAddress.zip", "homeAddress.country",
    "homeAddress.state", "homeAddress.city", "homeAddress.street", "homeAddress.zip", "otherAddress.country",
    "otherAddress.state", "otherAddress.city", "otherAddress.street", "otherAddress.zip",
];

#[rustfmt::skip]
const VOICEMAIL: &[&str] = paths![
    "id", "uri", "extensionId", "type", "direction", "availability", "readStatus", "priority", "messageStatus",
    "creationTime", "lastModifiedTime", "subject", "vmTranscriptionStatus", "conversationId", "conversation.*",
    "from.phoneNumber", "from.extensionNumber", "from.extensionId", "from.name", "from.location", "to.*",
    "attachments.*", "owner.*",
];

/// A call-log record (`GET .../call-log`, Simple view) and what `tag_call` adds to it:
/// `otherParty` (the party that is not the extension: `from` of an inbound call, `to` of an
/// outbound one), `extensionId` and `siteId` (the extension that handled it and its site),
/// `callResult` (`answered`, `missed` or `voicemail`) and `dialledNumber` (the number the
/// caller dialled: `to.phoneNumber` of an inbound call).
#[rustfmt::skip]
const CALL: &[&str] = paths![
    "id", "uri", "sessionId", "telephonySessionId", "partyId", "startTime", "duration", "durationMs", "type",
    "internalType", "direction", "action", "result", "reason", "reasonDescription", "transport", "from.*", "to.*",
    "extension.*", "message.*", "recording.*", "billing.*", "lastModifiedTime", "legs.*", "deleted", "finished",
    "otherParty.*", "extensionId", "siteId", "callResult", "dialledNumber",
];

/// A message-store record of type SMS or Fax, with `extensionId` and `siteId` (the receiving
/// extension and its site) added by `tag_message`.
#[rustfmt::skip]
const MESSAGE: &[&str] = paths![
    "id", "uri", "extensionId", "siteId", "type", "direction", "availability", "readStatus", "priority",
    "messageStatus", "creationTime", "lastModifiedTime", "subject", "conversationId", "conversation.*",
    "from.phoneNumber", "from.extensionNumber", "from.extensionId", "from.name", "from.location", "to.*",
    "attachments.*", "owner.*", "faxPageCount", "faxResolution", "coverIndex", "coverPageText",
    "smsDeliveryTime", "smsSendingAttemptsCount", "deliveryErrorCode",
];

/// What Snapshots requires of a field's value (`docs/snapshots-api.md`, validation rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A string ≤ 2,000 characters.
    Text,
    /// A required name ≤ 200 characters.
    Name,
    Email,
    Phone,
    Country,
    Tags,
    /// `details`: any object; targets may write `details.<key>`.
    Object,
    /// `primary_contact`: `{name, email, phone}`; targets write `primary_contact.<key>`.
    Contact,
    OneOf(&'static [&'static str]),
    Timestamp,
    /// An id Snapshots checks (owner, location, lead).
    Reference,
}

#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub rule: Rule,
    pub required: bool,
}

const fn t(name: &'static str, rule: Rule) -> Target {
    Target { name, rule, required: false }
}

const fn required(name: &'static str, rule: Rule) -> Target {
    Target { name, rule, required: true }
}

pub const LEAD_STATUSES: &[&str] = &["new", "contacted", "qualified", "unqualified", "lost"];
pub const ACTIVITY_TYPES: &[&str] = &["follow_up", "call", "voicemail", "message"];

const LOCATION_TARGETS: &[Target] = &[
    required("name", Rule::Name),
    t("address", Rule::Text),
    t("city", Rule::Text),
    t("region", Rule::Text),
    t("postal_code", Rule::Text),
    t("country", Rule::Country),
    t("tags", Rule::Tags),
];

const ACCOUNT_TARGETS: &[Target] = &[
    required("company_name", Rule::Name),
    t("phone", Rule::Phone),
    t("email", Rule::Email),
    t("primary_contact", Rule::Contact),
    t("address", Rule::Text),
    t("city", Rule::Text),
    t("region", Rule::Text),
    t("postal_code", Rule::Text),
    t("country", Rule::Country),
    t("status", Rule::Text),
];

const LEAD_TARGETS: &[Target] = &[
    t("contact_id", Rule::Text),
    t("first_name", Rule::Text),
    t("last_name", Rule::Text),
    required("name", Rule::Name),
    t("email", Rule::Email),
    t("phone", Rule::Phone),
    t("company", Rule::Text),
    t("status", Rule::OneOf(LEAD_STATUSES)),
    t("source", Rule::Text),
    t("owner", Rule::Reference),
    t("location_id", Rule::Reference),
    t("tags", Rule::Tags),
];

const ACTIVITY_TARGETS: &[Target] = &[
    required("type", Rule::OneOf(ACTIVITY_TYPES)),
    t("lead_id", Rule::Reference),
    t("owner", Rule::Reference),
    t("subject", Rule::Text),
    t("due_at", Rule::Timestamp),
    t("occurred_at", Rule::Timestamp),
    t("location_id", Rule::Reference),
    t("tags", Rule::Tags),
    t("details", Rule::Object),
];

/// The fields a mapping may write in `collection` (not `external_id`, which comes from the
/// resource's `external_id` template, nor the fields Snapshots sets).
pub fn targets(collection: Collection) -> &'static [Target] {
    match collection {
        Collection::Locations => LOCATION_TARGETS,
        Collection::Accounts => ACCOUNT_TARGETS,
        Collection::Leads => LEAD_TARGETS,
        Collection::Activities => ACTIVITY_TARGETS,
    }
}

/// The target a mapping key names: a top-level field, `primary_contact.{name,email,phone}`
/// or `details.<key>`. Returns the top-level target and the sub-key.
pub fn target(collection: Collection, key: &str) -> Option<(&'static Target, Option<String>)> {
    let (top, sub) = match key.split_once('.') {
        Some((top, sub)) => (top, Some(sub)),
        None => (key, None),
    };
    let target = targets(collection).iter().find(|t| t.name == top)?;
    match (target.rule, sub) {
        (_, None) => Some((target, None)),
        (Rule::Contact, Some(s)) if ["name", "email", "phone"].contains(&s) => Some((target, Some(s.to_string()))),
        (Rule::Object, Some(s)) if !s.is_empty() && !s.contains('.') => Some((target, Some(s.to_string()))),
        _ => None,
    }
}

/// `lead`, `location`, ... for messages.
pub fn noun(collection: Collection) -> &'static str {
    match collection {
        Collection::Locations => "location",
        Collection::Accounts => "account",
        Collection::Leads => "lead",
        Collection::Activities => "activity",
    }
}

/// What a rule means, for people (the dashboard's editor shows it next to a target).
pub fn describe_rule(rule: Rule) -> String {
    match rule {
        Rule::Text => "text, at most 2,000 characters".into(),
        Rule::Name => "a name, at most 200 characters".into(),
        Rule::Email => "an email address (an invalid one is dropped with a note)".into(),
        Rule::Phone => "an E.164 phone number (use the phone transform)".into(),
        Rule::Country => "a two-letter ISO country code (use the country_code transform)".into(),
        Rule::Tags => "a list of tags".into(),
        Rule::Object => "an object: map its keys as details.<key>".into(),
        Rule::Contact => "the primary contact: map primary_contact.name, .email, .phone".into(),
        Rule::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
        Rule::Timestamp => "an RFC 3339 timestamp".into(),
        Rule::Reference => "an id Snapshots checks (owner, location or lead)".into(),
    }
}

/// The transforms a mapping may name (the ones taking no argument; `{ phone = "CA" }` and
/// `{ lookup = {...} }` are written in the file).
pub const TRANSFORMS: &[(&str, &str)] = &[
    ("trim", "remove leading and trailing spaces"),
    ("lowercase", "lower-case"),
    ("uppercase", "upper-case"),
    ("phone", "a phone number in E.164, with the mapping's default_country"),
    ("region_code", "a state or province name as its code (California → CA)"),
    ("country_code", "a country name as its ISO code (United States → US)"),
];

/// Everything a mapping may name, as JSON, for the dashboard's editor: per resource its
/// collection, the known source paths (`x.*`: any path below `x`) and the target fields with
/// their rules; and the transforms.
pub fn catalogue() -> serde_json::Value {
    use serde_json::json;
    let resources: Vec<serde_json::Value> = Resource::ALL
        .iter()
        .map(|r| {
            let collection = r.collection();
            let mut list = Vec::new();
            for t in targets(collection) {
                let names: Vec<String> = match t.rule {
                    Rule::Contact => ["name", "email", "phone"].iter().map(|s| format!("{}.{s}", t.name)).collect(),
                    _ => vec![t.name.to_string()],
                };
                for name in names {
                    list.push(json!({ "name": name, "rule": describe_rule(t.rule), "required": t.required }));
                }
            }
            json!({
                "name": r.name(),
                "collection": noun(collection),
                "source": r.source_name(),
                "source_fields": r.source_fields(),
                "targets": list,
            })
        })
        .collect();
    let transforms: Vec<serde_json::Value> =
        TRANSFORMS.iter().map(|(name, what)| json!({ "name": name, "description": what })).collect();
    json!({ "resources": resources, "transforms": transforms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_source_paths() {
        assert!(Resource::LocationFromSite.knows_source("regionalSettings.homeCountry.isoCode"));
        assert!(Resource::LocationFromSite.knows_source("businessAddress.city"));
        assert!(!Resource::LocationFromSite.knows_source("businessAddress.street2"), "sites have no street2");
        assert!(!Resource::LocationFromSite.knows_source("regionalSettingsX"));
        assert!(Resource::LeadFromContact.knows_source("email"));
    }

    #[test]
    fn nested_targets() {
        assert!(target(Collection::Accounts, "primary_contact.email").is_some());
        assert!(target(Collection::Accounts, "primary_contact.fax").is_none());
        assert!(target(Collection::Activities, "details.caller").is_some());
        assert!(target(Collection::Leads, "emial").is_none());
        assert!(target(Collection::Leads, "external_id").is_none());
        assert!(target(Collection::Leads, "lead_id").is_none());
    }
}

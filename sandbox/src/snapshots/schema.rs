//! The four writable collections and their fields, as `docs/snapshots-api.md` lists them.
//!
//! Each field has a [`Rule`] that `validate` enforces; the record's own id, `version` and
//! `updated_at` are set by Snapshots and are not in these tables (writing them is refused).

/// A writable collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Locations,
    Accounts,
    Leads,
    Activities,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Locations, Kind::Accounts, Kind::Leads, Kind::Activities];

    /// The collection's path segment and dump key.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Locations => "locations",
            Kind::Accounts => "accounts",
            Kind::Leads => "leads",
            Kind::Activities => "activities",
        }
    }

    /// One record, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Locations => "location",
            Kind::Accounts => "account",
            Kind::Leads => "lead",
            Kind::Activities => "activity",
        }
    }

    /// The record's id field.
    pub fn id_field(self) -> &'static str {
        match self {
            Kind::Locations => "location_id",
            Kind::Accounts => "account_id",
            Kind::Leads => "lead_id",
            Kind::Activities => "activity_id",
        }
    }

    /// The id prefix (`loc_…`).
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Locations => "loc_",
            Kind::Accounts => "acc_",
            Kind::Leads => "lead_",
            Kind::Activities => "act_",
        }
    }

    pub fn from_collection(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == name)
    }

    /// Fields Snapshots sets; a body that writes one is refused.
    pub fn read_only(self) -> [&'static str; 3] {
        [self.id_field(), "version", "updated_at"]
    }

    /// The writable fields, in the order they are checked.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Locations => LOCATION,
            Kind::Accounts => ACCOUNT,
            Kind::Leads => LEAD,
            Kind::Activities => ACTIVITY,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A string of at most 2,000 characters.
    Text,
    /// A non-blank string of at most 200 characters (`name`, `company_name`).
    Name,
    /// `external_id`: a non-blank string of at most 2,000 characters, unique per collection.
    ExternalId,
    /// One `@` with text on both sides.
    Email,
    /// E.164: `+` then 8–15 digits.
    Phone,
    /// ISO 3166-1 alpha-2: two uppercase letters.
    Country,
    /// An array of strings.
    Tags,
    /// Any JSON object.
    Object,
    /// `{"name","email","phone"}`, each optional.
    Contact,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// An RFC 3339 timestamp.
    Timestamp,
    /// The id of an active owner.
    Owner,
    /// The id of an existing location.
    LocationRef,
    /// The id of an existing lead.
    LeadRef,
}

/// One writable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub rule: Rule,
    /// Must be present (and not null) on create, and cannot be cleared.
    pub required: bool,
    /// Value a create gets when the field is not sent (`null` otherwise).
    pub default: Default,
}

/// A field's value when a create leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    Null,
    EmptyArray,
    EmptyObject,
    Str(&'static str),
}

pub const LEAD_STATUSES: &[&str] = &["new", "contacted", "qualified", "unqualified", "lost"];
pub const ACTIVITY_TYPES: &[&str] = &["follow_up", "call", "voicemail", "message"];

const fn opt(name: &'static str, rule: Rule) -> Field {
    Field { name, rule, required: false, default: Default::Null }
}

const fn req(name: &'static str, rule: Rule) -> Field {
    Field { name, rule, required: true, default: Default::Null }
}

const fn with_default(name: &'static str, rule: Rule, default: Default) -> Field {
    Field { name, rule, required: false, default }
}

const LOCATION: &[Field] = &[
    opt("external_id", Rule::ExternalId),
    req("name", Rule::Name),
    opt("address", Rule::Text),
    opt("city", Rule::Text),
    opt("region", Rule::Text),
    opt("postal_code", Rule::Text),
    opt("country", Rule::Country),
    with_default("tags", Rule::Tags, Default::EmptyArray),
];

const ACCOUNT: &[Field] = &[
    opt("external_id", Rule::ExternalId),
    req("company_name", Rule::Name),
    opt("phone", Rule::Phone),
    opt("email", Rule::Email),
    opt("primary_contact", Rule::Contact),
    opt("address", Rule::Text),
    opt("city", Rule::Text),
    opt("region", Rule::Text),
    opt("postal_code", Rule::Text),
    opt("country", Rule::Country),
    opt("status", Rule::Text),
];

const LEAD: &[Field] = &[
    opt("external_id", Rule::ExternalId),
    opt("contact_id", Rule::Text),
    opt("first_name", Rule::Text),
    opt("last_name", Rule::Text),
    req("name", Rule::Name),
    opt("email", Rule::Email),
    opt("phone", Rule::Phone),
    opt("company", Rule::Text),
    with_default("status", Rule::OneOf(LEAD_STATUSES), Default::Str("new")),
    opt("source", Rule::Text),
    opt("owner", Rule::Owner),
    opt("location_id", Rule::LocationRef),
    with_default("tags", Rule::Tags, Default::EmptyArray),
];

const ACTIVITY: &[Field] = &[
    opt("external_id", Rule::ExternalId),
    req("type", Rule::OneOf(ACTIVITY_TYPES)),
    opt("lead_id", Rule::LeadRef),
    opt("owner", Rule::Owner),
    opt("subject", Rule::Text),
    opt("due_at", Rule::Timestamp),
    opt("occurred_at", Rule::Timestamp),
    opt("location_id", Rule::LocationRef),
    with_default("tags", Rule::Tags, Default::EmptyArray),
    with_default("details", Rule::Object, Default::EmptyObject),
];

//! The account's data: account info, business address, sites, emergency locations,
//! extensions, and per-extension personal address books with their sync log.
//!
//! Records are typed structs (cheap to build by the hundred thousand); the route modules
//! render them into RingCentral's JSON. [`super::fixture`] fills a `Directory` from a seed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use address_book::{AddressBook, Contact, SyncCursor};

mod address_book;

/// RingCentral's cap on personal contacts per user (DOCS `address-book/index.md`).
pub const MAX_CONTACTS_PER_EXTENSION: usize = 10_000;

pub struct Directory {
    pub account_id: u64,
    /// The extension the sandbox JWT logs in as; also the account's operator.
    pub admin_extension_id: u64,
    /// Account info fields other than `id`/`uri` (free-form so `PATCH /sandbox/account`
    /// can merge any documented field).
    pub account: Map<String, Value>,
    pub business: BusinessAddressInfo,
    /// Sites in creation order.
    pub sites: Vec<Site>,
    /// Emergency locations in creation order.
    pub locations: Vec<EmergencyLocation>,
    /// Extensions in id order.
    pub extensions: Vec<ExtensionRecord>,
    /// Personal address books, by extension id (only extensions that have one).
    pub books: BTreeMap<u64, AddressBook>,
    /// Next ids handed out by the control API.
    pub next_site_id: u64,
    pub next_location_id: u64,
    pub next_contact_id: u64,
    /// Changes with every restart, so a sync token from another sandbox run is refused.
    pub sync_epoch: u32,
}

impl Directory {
    /// Builds the fixture: deterministic from `seed`; `contacts` personal contacts
    /// (`None` = the default company's 200).
    pub fn generate(seed: u64, contacts: Option<usize>) -> Directory {
        super::fixture::generate(seed, contacts)
    }

    /// True when `id` is an extension of the account.
    pub fn has_extension(&self, id: u64) -> bool {
        self.extension(id).is_some()
    }

    pub fn extension(&self, id: u64) -> Option<&ExtensionRecord> {
        self.extensions.binary_search_by_key(&id, |e| e.id).ok().map(|i| &self.extensions[i])
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The main site (the first one); `main-site` in filters means this one.
    pub fn main_site_id(&self) -> Option<&str> {
        self.sites.first().map(|s| s.id.as_str())
    }

    pub fn location(&self, id: &str) -> Option<&EmergencyLocation> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// The address book of an existing extension, created empty on first use.
    pub fn book_mut(&mut self, extension_id: u64) -> Option<&mut AddressBook> {
        if !self.has_extension(extension_id) {
            return None;
        }
        Some(self.books.entry(extension_id).or_default())
    }
}

/// `GET .../business-address` minus `uri`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BusinessAddressInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_site_name: Option<String>,
    pub business_address: PostalAddress,
}

/// `{country, state, city, street, zip}`: business addresses of accounts, sites and
/// extension contacts, and personal contacts' addresses (`ContactAddressInfo`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PostalAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
}

/// A site (`SiteInfo` minus `uri`; the operator's `uri` is rendered). Missing fields
/// default so the control API can check a patch one field at a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Site {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub business_address: PostalAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regional_settings: Option<Value>,
    pub site_access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<SiteOperator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SiteOperator {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An emergency location (`CommonEmergencyLocationResource` minus `uri`; `site.name` is
/// rendered from the site so renaming a site shows everywhere).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EmergencyLocation {
    pub id: String,
    pub name: String,
    pub address: LocationAddress,
    pub site_id: String,
    pub address_status: String,
    pub usage_status: String,
    pub sync_status: String,
    pub address_type: String,
    pub visibility: String,
    pub owners: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_format_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_format_status: Option<String>,
    pub trusted: bool,
}

/// An emergency location's address: unlike a site's, it has `street2`, `stateName` and
/// the country/state ids and ISO codes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocationAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_iso_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_iso_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_country: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_number: Option<String>,
}

/// An extension. Rendered by `extensions.rs`.
#[derive(Debug, Clone)]
pub struct ExtensionRecord {
    pub id: u64,
    pub extension_number: String,
    pub name: String,
    /// `User`, `Department`, `Announcement`, ...
    pub kind: &'static str,
    pub status: &'static str,
    pub contact: ExtensionContact,
    pub site_id: String,
    pub is_admin: bool,
    pub creation_time: String,
}

#[derive(Debug, Clone, Default)]
pub struct ExtensionContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub department: Option<String>,
    pub business_address: PostalAddress,
}

/// A personal contact's documented fields (`PersonalContactResource` minus `uri`, `id`,
/// `availability`). All optional: real address books are full of half-filled entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ContactFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_phone2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_phone2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_fax: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub car_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_fax: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_address: Option<PostalAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_address: Option<PostalAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_address: Option<PostalAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringtone_index: Option<String>,
}

/// RingCentral's timestamp format, e.g. `2026-01-15T10:00:00.000Z`.
pub fn rc_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Now, in RingCentral's timestamp format.
pub fn now() -> String {
    rc_time(time::OffsetDateTime::now_utc())
}

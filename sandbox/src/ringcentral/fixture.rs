//! The deterministic fixture: one account (400000001) with a business address, 3 sites,
//! 6 emergency locations, 25 extensions (400000101..=400000125; 101 is the admin) and
//! personal contacts spread over the User extensions' address books.
//!
//! Ids never depend on the seed; names, companies and phone numbers do. Messy contacts
//! sit at fixed indexes (see [`messiness`]) so tests can find them for any seed.

use serde_json::{json, Map, Value};

use contacts::{address_books, FIRST, LAST, TITLES};
pub use contacts::{messiness, split_contacts, Messy};

mod contacts;

use super::directory::{
    BusinessAddressInfo, Directory, EmergencyLocation, ExtensionContact, ExtensionRecord, LocationAddress,
    PostalAddress, Site, SiteOperator,
};

pub const ACCOUNT_ID: u64 = 400_000_001;
pub const FIRST_EXTENSION_ID: u64 = 400_000_101;
pub const FIRST_SITE_ID: u64 = 400_000_201;
pub const FIRST_LOCATION_ID: u64 = 400_000_301;
pub const FIRST_CONTACT_ID: u64 = 500_000_001;
pub const DEFAULT_CONTACTS: usize = 200;
/// Fixture records were all "last modified" at this moment.
const FIXTURE_TIME: &str = "2026-01-15T10:00:00.000Z";

/// splitmix64: tiny, fast and stable across crate versions (rand's generators are not
/// promised to be), so a seed means the same data forever.
pub(super) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn generate(seed: u64, contacts: Option<usize>) -> Directory {
    let mut rng = Rng(seed ^ 0x5EED_0000_0000_0001);
    let sites = sites();
    let extensions = extensions(&mut rng, &sites);
    let admin = &extensions[0];
    let books = address_books(&mut rng, &extensions, contacts.unwrap_or(DEFAULT_CONTACTS));
    let total: usize = books.values().map(|b| b.alive).sum();
    Directory {
        account_id: ACCOUNT_ID,
        admin_extension_id: admin.id,
        account: account(admin),
        business: BusinessAddressInfo {
            company: Some("Sandbox Widgets Inc.".into()),
            email: Some("admin@sandbox-widgets.example.com".into()),
            main_site_name: Some(sites[0].name.clone()),
            business_address: sites[0].business_address.clone(),
        },
        locations: locations(&sites),
        sites,
        extensions,
        books,
        next_site_id: FIRST_SITE_ID + 3,
        next_location_id: FIRST_LOCATION_ID + 6,
        next_contact_id: FIRST_CONTACT_ID + total as u64,
        sync_epoch: rand::random::<u32>(),
    }
}

fn account(admin: &ExtensionRecord) -> Map<String, Value> {
    let v = json!({
        "bsid": "sandbox-bsid-400000001",
        "mainNumber": "+16505550100",
        "operator": { "id": admin.id, "extensionNumber": admin.extension_number },
        "serviceInfo": {
            "brand": { "id": "1210", "name": "RingCentral", "homeCountry": { "id": "1" } },
            "servicePlan": { "id": "9990", "name": "RingEX Premium", "edition": "Premium" },
            "targetServicePlan": { "id": "9990", "name": "RingEX Premium", "edition": "Premium" },
            "billingPlan": { "id": "3000", "name": "Monthly", "durationUnit": "Month", "duration": 1, "type": "Regular" },
            "contractedCountry": { "id": "1" },
            "uBrand": { "id": "1210", "name": "RingCentral" }
        },
        "setupWizardState": "Completed",
        "signupInfo": { "tosAccepted": true, "signupState": ["AccountCreated", "AccountConfirmed"] },
        "status": "Confirmed",
        "statusInfo": {},
        "regionalSettings": us_regional(),
        "federated": false,
        "limits": { "freeSoftPhoneLinesPerExtension": 1, "meetingSize": 100, "maxMonitoredExtensionsPerUser": 100,
                    "maxExtensionNumberLength": 5, "siteCodeLength": 0, "shortExtensionNumberLength": 3 }
    });
    v.as_object().cloned().unwrap_or_default()
}

fn us_regional() -> Value {
    json!({
        "homeCountry": { "id": "1", "name": "United States", "isoCode": "US", "callingCode": "1" },
        "timezone": { "id": "58", "name": "US/Pacific", "description": "Pacific Time (US & Canada)", "bias": "-480" },
        "language": { "id": "1033", "name": "English (United States)", "localeCode": "en-US" },
        "greetingLanguage": { "id": "1033", "name": "English (United States)", "localeCode": "en-US" },
        "formattingLocale": { "id": "1033", "name": "English (United States)", "localeCode": "en-US" },
        "timeFormat": "12h",
        "currency": { "id": "146", "code": "USD", "name": "US Dollar", "symbol": "$" }
    })
}

fn sites() -> Vec<Site> {
    let defs = [
        ("Headquarters", "1000", "2000 Bridge Pkwy", "San Mateo", "CA", "94404", "HQ"),
        ("New York Office", "2000", "350 5th Ave", "New York", "NY", "10118", "NYC"),
        ("Austin Office", "3000", "500 W 2nd St", "Austin", "TX", "78701", "AUS"),
    ];
    defs.iter()
        .enumerate()
        .map(|(i, (name, ext, street, city, state, zip, code))| Site {
            id: (FIRST_SITE_ID + i as u64).to_string(),
            name: name.to_string(),
            extension_number: Some(ext.to_string()),
            caller_id_name: Some(format!("Sandbox Widgets {code}")),
            email: Some(format!("{}@sandbox-widgets.example.com", code.to_lowercase())),
            business_address: PostalAddress {
                country: Some("US".into()),
                state: Some(state.to_string()),
                city: Some(city.to_string()),
                street: Some(street.to_string()),
                zip: Some(zip.to_string()),
            },
            regional_settings: Some(us_regional()),
            site_access: if i == 0 { "Unlimited" } else { "Limited" }.into(),
            operator: Some(SiteOperator {
                id: FIRST_EXTENSION_ID.to_string(),
                extension_number: Some("101".into()),
                name: None,
            }),
            code: Some(code.to_string()),
        })
        .collect()
}

fn locations(sites: &[Site]) -> Vec<EmergencyLocation> {
    // (name, site index, street, street2, city, state, state name, zip, status, usage)
    let defs = [
        (
            "HQ Floor 1",
            0,
            "2000 Bridge Pkwy",
            Some("Floor 1"),
            "San Mateo",
            "CA",
            "California",
            "94404",
            "Valid",
            "Active",
        ),
        (
            "HQ Floor 2",
            0,
            "2000 Bridge Pkwy",
            Some("Floor 2"),
            "San Mateo",
            "CA",
            "California",
            "94404",
            "Valid",
            "Active",
        ),
        ("HQ Lab", 0, "2010 Bridge Pkwy", None, "San Mateo", "CA", "California", "94404", "Provisioning", "Active"),
        ("NYC Main", 1, "350 5th Ave", Some("Suite 4100"), "New York", "NY", "New York", "10118", "Valid", "Active"),
        ("NYC Overflow", 1, "1 Penn Plz", None, "New York", "NY", "New York", "10119", "Invalid", "Inactive"),
        ("Austin Main", 2, "500 W 2nd St", Some("Floor 19"), "Austin", "TX", "Texas", "78701", "Valid", "Active"),
    ];
    defs.iter()
        .enumerate()
        .map(|(i, d)| EmergencyLocation {
            id: (FIRST_LOCATION_ID + i as u64).to_string(),
            name: d.0.to_string(),
            address: LocationAddress {
                country: Some("US".into()),
                country_id: Some("1".into()),
                country_iso_code: Some("US".into()),
                country_name: Some("United States".into()),
                state: Some(d.5.to_string()),
                state_iso_code: Some(d.5.to_string()),
                state_name: Some(d.6.to_string()),
                city: Some(d.4.to_string()),
                street: Some(d.2.to_string()),
                street2: d.3.map(str::to_string),
                zip: Some(d.7.to_string()),
                customer_name: Some("Sandbox Widgets Inc.".into()),
                out_of_country: Some(false),
                ..LocationAddress::default()
            },
            site_id: sites[d.1].id.clone(),
            address_status: d.8.into(),
            usage_status: d.9.into(),
            sync_status: if d.8 == "Valid" { "Verified" } else { "ActivationProcess" }.into(),
            address_type: "LocationWithElins".into(),
            visibility: "Public".into(),
            owners: Vec::new(),
            address_format_id: Some("US".into()),
            address_format_status: Some("Actual".into()),
            trusted: d.8 == "Valid",
        })
        .collect()
}

/// Number 101 + i: (type, status). Users first so they are 101..=118.
fn extension_kind(i: usize) -> (&'static str, &'static str) {
    match i {
        9 => ("User", "Disabled"),
        13 => ("User", "NotActivated"),
        16 => ("User", "Frozen"),
        0..=17 => ("User", "Enabled"),
        18 => ("Department", "Enabled"),
        19 => ("Department", "Enabled"),
        20 => ("Announcement", "Enabled"),
        21 => ("Voicemail", "Enabled"),
        22 => ("IvrMenu", "Enabled"),
        23 => ("ParkLocation", "Enabled"),
        _ => ("FaxUser", "Disabled"),
    }
}

fn extensions(rng: &mut Rng, sites: &[Site]) -> Vec<ExtensionRecord> {
    let named = ["Sales", "Support", "After Hours", "Shared Voicemail", "Main Menu", "Park 1", "Office Fax"];
    (0..25)
        .map(|i| {
            let (kind, status) = extension_kind(i);
            let number = (101 + i).to_string();
            let site = &sites[[0, 0, 1, 2, 0][i % 5]];
            let mut contact = ExtensionContact {
                company: Some("Sandbox Widgets Inc.".into()),
                business_address: site.business_address.clone(),
                ..ExtensionContact::default()
            };
            let name = if kind == "User" {
                let first = rng.pick(FIRST).to_string();
                let last = rng.pick(LAST).to_string();
                contact.email =
                    Some(format!("{}.{}{}@sandbox-widgets.example.com", first, last, number).to_lowercase());
                contact.business_phone = Some(format!("+1650555{:04}", 1000 + i));
                contact.job_title = Some(if i == 0 { "IT Administrator" } else { *rng.pick(TITLES) }.into());
                contact.department = Some(["IT", "Sales", "Support", "Finance"][i % 4].into());
                contact.first_name = Some(first.clone());
                contact.last_name = Some(last.clone());
                format!("{first} {last}")
            } else {
                let name = named[i - 18].to_string();
                contact.first_name = Some(name.clone());
                contact.email = Some(format!("ext{number}@sandbox-widgets.example.com"));
                name
            };
            ExtensionRecord {
                id: FIRST_EXTENSION_ID + i as u64,
                extension_number: number,
                name,
                kind,
                status,
                contact,
                site_id: site.id.clone(),
                is_admin: i == 0,
                creation_time: format!("2025-{:02}-{:02}T09:00:00.000Z", 1 + i % 12, 1 + i),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ringcentral::directory::{ContactFields, MAX_CONTACTS_PER_EXTENSION};

    #[test]
    fn same_seed_same_data_other_seed_other_names() {
        let a = generate(7, None);
        let b = generate(7, None);
        let c = generate(8, None);
        let first = |d: &Directory| d.books[&FIRST_EXTENSION_ID].contacts[&FIRST_CONTACT_ID].fields.clone();
        assert_eq!(first(&a), first(&b));
        assert_eq!(a.extensions[5].name, b.extensions[5].name);
        assert!(first(&a) != first(&c) || a.extensions[5].name != c.extensions[5].name);
    }

    #[test]
    fn messy_cases_in_the_default_company() {
        let d = generate(1, None);
        let all: Vec<&ContactFields> = d.books.values().flat_map(|b| b.alive().map(|c| &c.fields)).collect();
        assert_eq!(all.len(), 200);
        assert_eq!(all.iter().filter(|f| f.email.is_none()).count(), 20);
        assert_eq!(
            all.iter().filter(|f| f.business_phone.as_deref().is_some_and(|p| p.starts_with('('))).count(),
            24,
            "20 + 4 duplicates of national-format contacts"
        );
        assert_eq!(all.iter().filter(|f| f.company.is_none()).count(), 20);
        assert_eq!((0..200).filter(|&i| messiness(i) == Messy::DuplicateOfPrevious).count(), 8);
        let dup = &d.books[&FIRST_EXTENSION_ID].contacts[&(FIRST_CONTACT_ID + 7)].fields;
        let original = &d.books[&FIRST_EXTENSION_ID].contacts[&(FIRST_CONTACT_ID + 6)].fields;
        assert!(dup.email.is_some() && dup.email == original.email);
    }

    #[test]
    fn default_split_and_cap() {
        assert_eq!(split_contacts(200, 18), vec![80, 60, 40, 20]);
        let big = split_contacts(100_000, 18);
        assert_eq!(big.len(), 10);
        assert!(big.iter().all(|&n| n <= MAX_CONTACTS_PER_EXTENSION));
        assert_eq!(big.iter().sum::<usize>(), 100_000);
        assert_eq!(split_contacts(1_000_000, 18).iter().sum::<usize>(), 180_000);
    }
}

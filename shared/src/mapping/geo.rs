//! Place names to codes: US states and Canadian provinces to their postal codes, and
//! country names to ISO 3166-1 alpha-2. Lookups ignore case, dots and extra spaces, so
//! "united states", "U.S.A." and "USA" all find `US`.

/// (code, name) of the US states, DC, the territories and the Canadian provinces and
/// territories. The two sets of codes do not overlap, so one table serves both.
#[rustfmt::skip]
const REGIONS: &[(&str, &str)] = &[
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("FL", "Florida"), ("GA", "Georgia"),
    ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"),
    ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"), ("MD", "Maryland"),
    ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"), ("MS", "Mississippi"), ("MO", "Missouri"),
    ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"), ("NH", "New Hampshire"), ("NJ", "New Jersey"),
    ("NM", "New Mexico"), ("NY", "New York"), ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"),
    ("OK", "Oklahoma"), ("OR", "Oregon"), ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"),
    ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"),
    ("VA", "Virginia"), ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
    ("DC", "District of Columbia"), ("PR", "Puerto Rico"), ("GU", "Guam"), ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"), ("MP", "Northern Mariana Islands"),
    ("AB", "Alberta"), ("BC", "British Columbia"), ("MB", "Manitoba"), ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"), ("NS", "Nova Scotia"), ("NT", "Northwest Territories"), ("NU", "Nunavut"),
    ("ON", "Ontario"), ("PE", "Prince Edward Island"), ("QC", "Quebec"), ("SK", "Saskatchewan"), ("YT", "Yukon"),
];

/// Other spellings of regions.
#[rustfmt::skip]
const REGION_ALIASES: &[(&str, &str)] = &[
    ("Washington DC", "DC"), ("Washington D C", "DC"), ("Québec", "QC"), ("Newfoundland", "NL"),
    ("Yukon Territory", "YT"), ("Virgin Islands", "VI"), ("PQ", "QC"), ("Calif", "CA"),
];

/// (ISO code, names and common aliases).
#[rustfmt::skip]
const COUNTRIES: &[(&str, &[&str])] = &[
    ("US", &["United States", "United States of America", "USA", "US", "America", "U S", "U S A"]),
    ("CA", &["Canada"]),
    ("GB", &["United Kingdom", "UK", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland",
             "United Kingdom of Great Britain and Northern Ireland"]),
    ("IE", &["Ireland", "Republic of Ireland"]), ("MX", &["Mexico", "México"]), ("AU", &["Australia"]),
    ("NZ", &["New Zealand"]), ("DE", &["Germany", "Deutschland"]), ("FR", &["France"]), ("ES", &["Spain", "España"]),
    ("PT", &["Portugal"]), ("IT", &["Italy", "Italia"]), ("NL", &["Netherlands", "The Netherlands", "Holland"]),
    ("BE", &["Belgium"]), ("LU", &["Luxembourg"]), ("CH", &["Switzerland"]), ("AT", &["Austria"]),
    ("DK", &["Denmark"]), ("SE", &["Sweden"]), ("NO", &["Norway"]), ("FI", &["Finland"]), ("IS", &["Iceland"]),
    ("PL", &["Poland"]), ("CZ", &["Czech Republic", "Czechia"]), ("SK", &["Slovakia"]), ("HU", &["Hungary"]),
    ("RO", &["Romania"]), ("BG", &["Bulgaria"]), ("GR", &["Greece"]), ("HR", &["Croatia"]), ("SI", &["Slovenia"]),
    ("RS", &["Serbia"]), ("UA", &["Ukraine"]), ("EE", &["Estonia"]), ("LV", &["Latvia"]), ("LT", &["Lithuania"]),
    ("TR", &["Turkey", "Türkiye"]), ("IL", &["Israel"]), ("AE", &["United Arab Emirates", "UAE"]),
    ("SA", &["Saudi Arabia"]), ("EG", &["Egypt"]), ("ZA", &["South Africa"]), ("NG", &["Nigeria"]),
    ("KE", &["Kenya"]), ("MA", &["Morocco"]), ("IN", &["India"]), ("PK", &["Pakistan"]), ("BD", &["Bangladesh"]),
    ("CN", &["China", "People's Republic of China"]), ("HK", &["Hong Kong"]), ("TW", &["Taiwan"]),
    ("JP", &["Japan"]), ("KR", &["South Korea", "Korea", "Republic of Korea"]), ("SG", &["Singapore"]),
    ("MY", &["Malaysia"]), ("TH", &["Thailand"]), ("VN", &["Vietnam", "Viet Nam"]), ("PH", &["Philippines"]),
    ("ID", &["Indonesia"]), ("BR", &["Brazil", "Brasil"]), ("AR", &["Argentina"]), ("CL", &["Chile"]),
    ("CO", &["Colombia"]), ("PE", &["Peru"]), ("VE", &["Venezuela"]), ("CR", &["Costa Rica"]),
    ("PA", &["Panama"]), ("DO", &["Dominican Republic"]), ("JM", &["Jamaica"]), ("RU", &["Russia", "Russian Federation"]),
];

/// Upper-case, dots removed, whitespace collapsed.
fn fold(s: &str) -> String {
    s.replace('.', " ").split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

/// "California" / "california" / "CA" → `CA`; "Ontario" → `ON`; unknown → `None`.
pub fn region_code(name: &str) -> Option<&'static str> {
    let f = fold(name);
    REGIONS
        .iter()
        .find(|(code, full)| f == *code || f == fold(full))
        .map(|(code, _)| *code)
        .or_else(|| REGION_ALIASES.iter().find(|(alias, _)| f == fold(alias)).map(|(_, code)| *code))
}

/// "United States" / "USA" / "us" → `US`; "Canada" → `CA`; unknown → `None`.
pub fn country_code(name: &str) -> Option<&'static str> {
    let f = fold(name);
    COUNTRIES.iter().find(|(code, names)| f == *code || names.iter().any(|n| fold(n) == f)).map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        assert_eq!(region_code("California"), Some("CA"));
        assert_eq!(region_code(" new  york "), Some("NY"));
        assert_eq!(region_code("tx"), Some("TX"));
        assert_eq!(region_code("Ontario"), Some("ON"));
        assert_eq!(region_code("Québec"), Some("QC"));
        assert_eq!(region_code("British Columbia"), Some("BC"));
        assert_eq!(region_code("District of Columbia"), Some("DC"));
        assert_eq!(region_code("Bavaria"), None);
    }

    #[test]
    fn countries() {
        for us in ["United States", "USA", "US", "u.s.a.", "united states of america", "us"] {
            assert_eq!(country_code(us), Some("US"), "{us}");
        }
        assert_eq!(country_code("Canada"), Some("CA"));
        assert_eq!(country_code("United Kingdom"), Some("GB"));
        assert_eq!(country_code("UK"), Some("GB"));
        assert_eq!(country_code("gb"), Some("GB"));
        assert_eq!(country_code("Germany"), Some("DE"));
        assert_eq!(country_code("Atlantis"), None);
    }
}

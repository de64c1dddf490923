//! E.164 phone normalisation with a default country.
//!
//! `+`-prefixed (or `00`-prefixed) numbers are kept as international numbers; national
//! numbers get the default country's calling code: for the NANP (US, CA) ten digits, or
//! eleven starting with `1`, as in "(650) 555-0123" and "650.555.0123"; elsewhere the
//! trunk `0` is dropped. An extension ("x123", "ext. 12") is cut off. Anything that does not
//! end up as `+` and 8–15 digits is not a phone number: `None`, never an error.

/// (ISO country, calling code, national trunk prefix to drop).
#[rustfmt::skip]
const CALLING_CODES: &[(&str, &str, &str)] = &[
    ("US", "1", "1"), ("CA", "1", "1"), ("GB", "44", "0"), ("IE", "353", "0"), ("AU", "61", "0"),
    ("NZ", "64", "0"), ("DE", "49", "0"), ("FR", "33", "0"), ("ES", "34", ""), ("IT", "39", ""),
    ("NL", "31", "0"), ("BE", "32", "0"), ("CH", "41", "0"), ("AT", "43", "0"), ("SE", "46", "0"),
    ("NO", "47", ""), ("DK", "45", ""), ("FI", "358", "0"), ("PL", "48", ""), ("PT", "351", ""),
    ("MX", "52", ""), ("BR", "55", "0"), ("IN", "91", "0"), ("JP", "81", "0"), ("SG", "65", ""),
    ("HK", "852", ""), ("CN", "86", "0"), ("ZA", "27", "0"), ("IL", "972", "0"), ("AE", "971", "0"),
];

/// True when the country has a calling code in the table.
pub fn known_country(iso: &str) -> bool {
    CALLING_CODES.iter().any(|(c, _, _)| c.eq_ignore_ascii_case(iso))
}

/// `+` then 8–15 digits: what Snapshots accepts.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Normalises `input` to E.164; `default_country` (ISO alpha-2) applies to national numbers.
pub fn to_e164(input: &str, default_country: &str) -> Option<String> {
    let lower = input.trim().to_lowercase();
    // Cut an extension: "x123", "ext 123", "ext. 123", "#123".
    let main = ["ext", "x", "#"].iter().filter_map(|m| lower.find(m)).min().map_or(&lower[..], |i| &lower[..i]);
    let main = main.trim();
    if main.is_empty() || !main.chars().all(|c| c.is_ascii_digit() || " ()-./+".contains(c)) {
        return None;
    }
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let international = if let Some(rest) = main.strip_prefix('+') {
        if rest.contains('+') {
            return None;
        }
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        let (_, code, trunk) = CALLING_CODES.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(default_country.trim()))?;
        if *code == "1" {
            match digits.len() {
                10 => format!("1{digits}"),
                11 if digits.starts_with('1') => digits,
                _ => return None,
            }
        } else {
            let national = if trunk.is_empty() { &digits[..] } else { digits.strip_prefix(trunk).unwrap_or(&digits) };
            format!("{code}{national}")
        }
    };
    // NANP area codes and exchanges never start with 0 or 1.
    if let Some(nanp) = international.strip_prefix('1') {
        if nanp.len() != 10 || nanp.starts_with(['0', '1']) {
            return None;
        }
    }
    let e164 = format!("+{international}");
    is_e164(&e164).then_some(e164)
}

/// The NANP area code of a number (`+16505550123` → `650`), after normalising it with
/// `default_country`; `None` for numbers outside the NANP.
pub fn nanp_area_code(input: &str, default_country: &str) -> Option<String> {
    let e = to_e164(input, default_country)?;
    e.strip_prefix("+1").map(|rest| rest[..3].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_national_formats() {
        for n in ["(650) 555-0123", "650.555.0123", "650-555-0123", "6505550123", "1 650 555 0123", "+1 (650) 555-0123"]
        {
            assert_eq!(to_e164(n, "US").as_deref(), Some("+16505550123"), "{n}");
        }
        assert_eq!(to_e164("(416) 555-0199", "CA").as_deref(), Some("+14165550199"));
        assert_eq!(to_e164("650-555-0123 x42", "US").as_deref(), Some("+16505550123"));
    }

    #[test]
    fn international_kept() {
        assert_eq!(to_e164("+44 20 7946 0958", "US").as_deref(), Some("+442079460958"));
        assert_eq!(to_e164("0044 20 7946 0958", "US").as_deref(), Some("+442079460958"));
        assert_eq!(to_e164("020 7946 0958", "GB").as_deref(), Some("+442079460958"));
    }

    #[test]
    fn invalid_is_none() {
        for n in ["", "   ", "555-0123", "call me", "12345", "+1 650 555", "(050) 555-0123", "++16505550123"] {
            assert_eq!(to_e164(n, "US"), None, "{n}");
        }
        assert_eq!(to_e164("6505550123", "ZZ"), None, "unknown default country");
        assert!(is_e164("+16505550123"));
        assert!(!is_e164("16505550123"));
        assert_eq!(nanp_area_code("(212) 555-0100", "US").as_deref(), Some("212"));
        assert_eq!(nanp_area_code("+442079460958", "US"), None);
    }
}

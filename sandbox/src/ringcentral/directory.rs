//! The account's data: account info, sites, emergency locations, extensions, personal
//! contacts and their address-book sync log. Placeholder with the fields other parts use.

pub struct Directory {
    pub account_id: u64,
    /// The extension the sandbox JWT logs in as.
    pub admin_extension_id: u64,
}

impl Directory {
    /// Builds the fixture: deterministic from `seed`; `contacts` personal contacts
    /// (`None` = the default company's 200).
    pub fn generate(_seed: u64, _contacts: Option<usize>) -> Directory {
        Directory { account_id: 400_000_001, admin_extension_id: 400_000_101 }
    }

    /// True when `id` is an extension of the account.
    pub fn has_extension(&self, id: u64) -> bool {
        id == self.admin_extension_id
    }
}

//! The owners fixture: the people leads can be assigned to (`GET /owners`, read-only).
//!
//! Six owners in three teams; ids `own_01`…`own_06`, teams and the `active` flags are the
//! same for every seed (routing tests name them), and `own_06` starts inactive. The names
//! (and so the emails) are drawn from a pool by `config.seed`, so a different seed gives a
//! different but equally deterministic cast. `PUT /sandbox/owners/{id}` flips `active`;
//! `POST /sandbox/reset` restores the fixture.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

/// One owner, as `GET /owners` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub owner_id: String,
    pub name: String,
    pub email: String,
    pub team: String,
    pub active: bool,
}

/// (team, active) of `own_01`…`own_06`.
const SLOTS: [(&str, bool); 6] = [
    ("Sales East", true),
    ("Sales East", true),
    ("Sales West", true),
    ("Sales West", true),
    ("Support", true),
    ("Sales East", false),
];

const NAMES: [&str; 12] = [
    "Alice Moreno",
    "Bilal Chaudhry",
    "Carmen Ortiz",
    "Dmitri Volkov",
    "Esther Nakamura",
    "Femi Adeyemi",
    "Greta Lindqvist",
    "Hiro Tanaka",
    "Ines Carvalho",
    "Jonas Becker",
    "Keisha Brown",
    "Liam O'Connor",
];

/// The fixture for `seed`.
pub fn fixture(seed: u64) -> Vec<Owner> {
    let mut names = NAMES.to_vec();
    // A seed-specific stream, apart from the other seeded generators of the sandbox.
    names.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x6f77_6e65_7273));
    SLOTS
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, ((team, active), name))| Owner {
            owner_id: format!("own_{:02}", i + 1),
            name: name.to_string(),
            email: format!("{}@snapshots.example", name.to_lowercase().replace(' ', ".").replace('\'', "")),
            team: team.to_string(),
            active: *active,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ids_and_teams_seeded_names() {
        let a = fixture(1);
        assert_eq!(a, fixture(1));
        assert_eq!(a.len(), 6);
        assert_eq!(a.iter().filter(|o| !o.active).map(|o| o.owner_id.as_str()).collect::<Vec<_>>(), ["own_06"]);
        let mut teams: Vec<_> = a.iter().map(|o| o.team.as_str()).collect();
        teams.dedup();
        assert!(teams.len() >= 2);
        let b = fixture(2);
        assert_eq!(
            a.iter().map(|o| &o.owner_id).collect::<Vec<_>>(),
            b.iter().map(|o| &o.owner_id).collect::<Vec<_>>()
        );
        assert_ne!(a.iter().map(|o| &o.name).collect::<Vec<_>>(), b.iter().map(|o| &o.name).collect::<Vec<_>>());
    }

    #[test]
    fn default_seed_cast_matches_the_docs() {
        // docs/snapshots-sandbox.md lists these; change both together.
        let names: Vec<_> = fixture(1).into_iter().map(|o| o.name).collect();
        let expected =
            ["Femi Adeyemi", "Alice Moreno", "Dmitri Volkov", "Ines Carvalho", "Bilal Chaudhry", "Carmen Ortiz"];
        assert_eq!(names, expected);
    }
}

//! Issue 11, requirement 4: no tracked file of the repository refers to anything outside it:
//! neither the notes folder beside the checkout nor the machine's own absolute paths, which a
//! clone elsewhere does not have (the two needles are spelled below).

use std::path::Path;
use std::process::Command;

/// Written in two halves so this file does not match itself.
const OUTSIDE: [&str; 2] = [concat!("..", "/shared"), concat!("/wo", "rk/")];

fn tracked_files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files (the check needs git and a checkout)");
    assert!(out.status.success(), "git ls-files: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// `(path:line, the line)` of every line of a text file that names a place outside the repo.
fn outside_references(path: &str, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| OUTSIDE.iter().any(|o| line.contains(o)))
        .map(|(n, line)| format!("{path}:{}: {}", n + 1, line.trim()))
        .collect()
}

#[test]
fn no_tracked_file_refers_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = tracked_files(&root);
    assert!(
        files.iter().any(|f| f == "README.md") && files.len() > 100,
        "not the repository's file list: {}",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        // Binary files (images) and files removed from the work tree are not text to check.
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
        found.extend(outside_references(file, &text));
    }
    assert!(found.is_empty(), "files refer outside the repository:\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_each_kind_of_outside_reference() {
    let text = format!("ok line\nsee {}/api/ringcentral.md\nrun {}main/target/x\n", OUTSIDE[0], OUTSIDE[1]);
    let found = outside_references("docs/x.md", &text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("docs/x.md:2: "), "{found:?}");
    assert!(found[1].starts_with("docs/x.md:3: "), "{found:?}");
}

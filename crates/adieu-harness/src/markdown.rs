//! Markdown reports that several programs write into one file (`BENCHMARKS.md`): each replaces
//! the sections it writes and keeps everyone else's where they were.

/// A Markdown text cut before each `## ` heading; the first chunk is what precedes the first.
fn chunks(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.starts_with("## ") {
            out.push(String::new());
        }
        let last = out.last_mut().expect("never empty");
        *last += line;
        last.push('\n');
    }
    out
}

/// A chunk's `## ` heading, or `""` for the text before the first.
fn heading(chunk: &str) -> &str {
    let first = chunk.lines().next().filter(|l| l.starts_with("## "));
    first.unwrap_or("")
}

/// `new`, with the chunks of `existing` whose heading (`""` for the text before the first `## `
/// heading) `ours` does not claim: each after the chunk it followed there, or at the start if
/// none of those is in `new`; but someone else's `## Notes` last, as a report's notes are.
/// Chunks are separated by one blank line.
pub fn merge(existing: Option<&str>, new: &str, ours: impl Fn(&str) -> bool) -> String {
    let mut out = chunks(new);
    let old = existing.map(chunks).unwrap_or_default();
    for (i, chunk) in old.iter().enumerate().filter(|(_, c)| !ours(heading(c))) {
        let position = |b: &String| out.iter().position(|c| heading(c) == heading(b));
        let before = old[..i].iter().rev().find_map(position);
        let at = match heading(chunk) == "## Notes" {
            true => out.len(),
            false => before.map_or(0, |b| b + 1),
        };
        out.insert(at, chunk.clone());
    }
    let out: Vec<&str> = out
        .iter()
        .map(|c| c.trim_end())
        .filter(|c| !c.is_empty())
        .collect();
    out.join("\n\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: &str = "## Soak";

    #[test]
    fn a_section_replaces_its_old_self_in_place_or_goes_before_the_notes() {
        let mine = |h: &str| h == MINE;
        let section = "## Soak\n\nnew figures\n";
        let old = "# B\n\nhead\n\n## 1. One\n\none\n\n## Soak\n\nold figures\n\n## Notes\n\n- n\n";
        let new = merge(Some(old), section, mine);
        assert_eq!(new, old.replace("old figures", "new figures"));
        assert_eq!(
            merge(Some(&new), section, mine),
            new,
            "merging again changes nothing"
        );
        let without = "# B\n\nhead\n\n## 1. One\n\none\n\n## Notes\n\n- n\n";
        let before_the_notes = without.replace("## Notes", &format!("{section}\n## Notes"));
        assert_eq!(merge(Some(without), section, mine), before_the_notes);
        assert_eq!(merge(None, section, mine), section);
        // A heading that only starts like ours is not ours.
        let older = "# B\n\n## Soak (older)\n\nold\n";
        assert_eq!(
            merge(Some(older), section, mine),
            format!("{older}\n{section}")
        );
    }
}

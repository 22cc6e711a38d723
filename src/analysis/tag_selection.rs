//! Which tasks `--tags`/`--skip-tags` select, with Ansible's meanings of `always`, `never`, `all`, `tagged` and
//! `untagged`. One rule for the run (which tasks execute) and the analysis (`--list-tasks`, unknown tags).

/// Tags `--tags` accepts without any task having them (Ansible's special tags).
pub const SPECIAL_TAGS: &[&str] = &["all", "untagged", "tagged", "always", "never"];

/// Whether a task with these tags runs under --tags/--skip-tags, with Ansible's meanings of `always`,
/// `never` and `all`.
pub fn selected_by_tags(task_tags: &[String], only: &[String], skip: &[String]) -> bool {
    let has = |tag: &str| task_tags.iter().any(|t| t == tag);
    if task_tags.iter().any(|t| skip.contains(t)) {
        return false;
    }
    if has("never") && !task_tags.iter().any(|t| t != "never" && only.contains(t)) {
        return false;
    }
    if only.is_empty() || only.iter().any(|t| t == "all") || has("always") {
        return true;
    }
    // Ansible's `tagged`: every task that has a tag of its own.
    if only.iter().any(|t| t == "tagged") && task_tags.iter().any(|t| t != "never") && !task_tags.is_empty() {
        return true;
    }
    if task_tags.is_empty() {
        return only.iter().any(|t| t == "untagged");
    }
    task_tags.iter().any(|t| only.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_select_like_ansible() {
        assert!(selected_by_tags(&tags(&["join"]), &[], &[]));
        assert!(selected_by_tags(&tags(&["join"]), &tags(&["join"]), &[]));
        assert!(!selected_by_tags(&tags(&["prepare"]), &tags(&["join"]), &[]));
        assert!(!selected_by_tags(&[], &tags(&["join"]), &[]));
        assert!(selected_by_tags(&[], &tags(&["untagged"]), &[]));
        assert!(selected_by_tags(&tags(&["always"]), &tags(&["join"]), &[]));
        assert!(!selected_by_tags(&tags(&["join"]), &[], &tags(&["join"])));
        assert!(!selected_by_tags(&tags(&["never", "debug"]), &[], &[]));
        assert!(selected_by_tags(&tags(&["never", "debug"]), &tags(&["debug"]), &[]));
        assert!(selected_by_tags(&tags(&["join"]), &tags(&["tagged"]), &[]));
        assert!(!selected_by_tags(&[], &tags(&["tagged"]), &[]));
    }
}

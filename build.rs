//! Embeds stdlib/*.rhai in the binary, so `import "stdlib/x"` works with no files beside the playbook.

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    let mut names: Vec<String> = std::fs::read_dir("stdlib")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".rhai"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// `(import path, source)` of every embedded stdlib module.\npub static EMBEDDED_STDLIB: &[(&str, &str)] = &[\n",
    );
    for name in names {
        let stem = name.trim_end_matches(".rhai");
        writeln!(
            out,
            "    (\"stdlib/{stem}\", include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/stdlib/{name}\"))),"
        )
        .unwrap();
    }
    out.push_str("];\n");
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_stdlib.rs");
    std::fs::write(path, out).unwrap();
}

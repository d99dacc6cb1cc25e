//! Checks of `crates/pw-server/openapi.json`: it is what `cargo run -p xtask -- openapi`
//! writes (schemas generated from the wire types), its `paths` are exactly the routes the
//! server's router registers (method and path), and every `$ref` resolves.
//!
//! The routes are read from the router's source: the `.route("...", get(..).post(..))` calls
//! of `crates/pw-server/src/{meta,api/mod,agent}.rs`, mounted as `router` in `lib.rs` does
//! (checked here too, so a new module or prefix fails loudly rather than going unseen).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::openapi::{self, OPENAPI_FILE, REGENERATE};

/// A method (upper case) and a path as the router spells it (`/api/v1/nodes/{id}`).
type Route = (String, String);

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The files with `.route(` calls and the prefix `pw_server::router` mounts them at.
const ROUTE_FILES: [(&str, &str); 5] = [
    ("crates/pw-server/src/meta.rs", ""),
    ("crates/pw-server/src/distribution.rs", ""),
    ("crates/pw-server/src/api/mod.rs", "/api/v1"),
    ("crates/pw-server/src/agent.rs", "/api/v1"),
    ("crates/pw-server/src/ssm/mod.rs", ""),
];

/// Files whose routes serve the web console's HTML pages and assets, not the JSON API: they
/// are mounted (below) but have no operations in openapi.json (docs/console.md).
const HTML_ROUTE_FILES: [&str; 1] = ["crates/pw-server/src/console/mod.rs"];

/// How `pw_server::router` mounts those files, whitespace removed.
const ROUTER_MOUNTS: [&str; 5] = [
    ".merge(meta::routes())",
    ".merge(distribution::routes())",
    ".nest(\"/api/v1\",api::routes().merge(agent::routes()))",
    ".merge(ssm::routes())",
    ".merge(console::routes())",
];

fn document() -> Value {
    let text = fs_err::read_to_string(openapi::workspace_root().join(OPENAPI_FILE)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn openapi_json_is_generated_from_the_wire_types() {
    let path = openapi::workspace_root().join(OPENAPI_FILE);
    let current = fs_err::read_to_string(&path).unwrap();
    let rendered = openapi::render(&current).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        rendered == current,
        "{OPENAPI_FILE} is out of date (a wire type in pw-api changed, or the file was edited \
         by hand without regenerating): run `{REGENERATE}` and commit the result"
    );
}

#[test]
fn every_ref_resolves() {
    let document = document();
    assert!(
        !openapi::refs(&document).is_empty(),
        "{OPENAPI_FILE} has no `$ref` at all"
    );
    let missing = openapi::unresolved_refs(&document);
    assert!(
        missing.is_empty(),
        "{OPENAPI_FILE}: these `$ref`s point at nothing: {missing:?}"
    );
    // The generated schemas alone resolve too (no reference to a hand-edited part).
    let schemas = openapi::schemas().unwrap();
    let alone = serde_json::json!({ "components": { "schemas": schemas } });
    let missing = openapi::unresolved_refs(&alone);
    assert!(
        missing.is_empty(),
        "generated schemas refer to missing ones: {missing:?}"
    );
}

#[test]
fn paths_are_exactly_the_routes_of_the_router() {
    let router = router_routes();
    let documented = documented_routes(&document());
    let show = |routes: Vec<&Route>| -> Vec<String> {
        routes
            .into_iter()
            .map(|(method, path)| format!("{method} {path}"))
            .collect()
    };
    let undocumented = show(router.difference(&documented).collect());
    let unrouted = show(documented.difference(&router).collect());
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "{OPENAPI_FILE} and the router of pw-server disagree.\n\
         Routes missing from `paths` (add them by hand, then run `{REGENERATE}`): \
         {undocumented:#?}\n\
         Operations in `paths` that the router does not have: {unrouted:#?}"
    );
}

#[test]
fn route_parser_reads_method_chains() {
    let source = r#"
        Router::new()
            .route("/a", get(a::list).post(a::create))
            .route(
                "/a/{id}",
                get(a::show)
                    .put(a::update)
                    .delete(a::delete_one),
            )
            .route("/b", delete(b::remove))
    "#;
    let routes = parse_routes("test", source, "/p");
    let expected: BTreeSet<Route> = [
        ("GET", "/p/a"),
        ("POST", "/p/a"),
        ("GET", "/p/a/{id}"),
        ("PUT", "/p/a/{id}"),
        ("DELETE", "/p/a/{id}"),
        ("DELETE", "/p/b"),
    ]
    .into_iter()
    .map(|(method, path)| (method.to_owned(), path.to_owned()))
    .collect();
    assert_eq!(routes, expected);
}

/// Every (method, path) operation of the document's `paths`.
fn documented_routes(document: &Value) -> BTreeSet<Route> {
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("{OPENAPI_FILE} has no `paths` object"));
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("{OPENAPI_FILE}: paths.{path} is not an object"));
        for method in item
            .keys()
            .filter(|key| HTTP_METHODS.contains(&key.as_str()))
        {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// Every (method, path) the router of pw-server registers, read from its source.
fn router_routes() -> BTreeSet<Route> {
    let root = openapi::workspace_root();
    let lib = fs_err::read_to_string(root.join("crates/pw-server/src/lib.rs")).unwrap();
    let lib: String = lib.chars().filter(|c| !c.is_whitespace()).collect();
    for mount in ROUTER_MOUNTS {
        assert!(
            lib.contains(mount),
            "`pw_server::router` (crates/pw-server/src/lib.rs) no longer mounts `{mount}`: \
             update ROUTE_FILES and ROUTER_MOUNTS in xtask/src/openapi_checks.rs"
        );
    }
    // A `.route(` or `.nest(` anywhere else would be a route this check does not see.
    let mut files = Vec::new();
    rust_files(&root.join("crates/pw-server/src"), &mut files);
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = fs_err::read_to_string(&file).unwrap();
        let listed = ROUTE_FILES.iter().any(|(path, _)| *path == relative)
            || HTML_ROUTE_FILES.contains(&relative.as_str());
        assert!(
            listed || !text.contains(".route("),
            "{relative} registers routes: add it to ROUTE_FILES in xtask/src/openapi_checks.rs"
        );
        assert!(
            relative == "crates/pw-server/src/lib.rs" || !text.contains(".nest("),
            "{relative} nests routes: update ROUTE_FILES in xtask/src/openapi_checks.rs"
        );
    }
    let mut routes = BTreeSet::new();
    for (file, prefix) in ROUTE_FILES {
        let text = fs_err::read_to_string(root.join(file)).unwrap();
        routes.extend(parse_routes(file, &text, prefix));
    }
    routes
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The routes of every `.route("path", method(handler).method(handler)...)` call in
/// `source`, under `prefix`. Panics on a call it cannot read, naming the file.
fn parse_routes(file: &str, source: &str, prefix: &str) -> BTreeSet<Route> {
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(start) = rest.find(".route(") {
        rest = &rest[start + ".route(".len()..];
        let args = call_arguments(rest)
            .unwrap_or_else(|| panic!("{file}: a `.route(` call without its closing `)`"));
        let args = args.trim_start();
        let path = args
            .strip_prefix('"')
            .and_then(|after| after.split_once('"'))
            .map(|(path, _)| path)
            .unwrap_or_else(|| {
                panic!("{file}: a `.route(` call whose path is not a string literal")
            });
        let methods = method_calls(&args[path.len() + 2..]);
        assert!(
            !methods.is_empty(),
            "{file}: route `{path}` has no method router this check knows (get, post, ...)"
        );
        for method in methods {
            routes.insert((method, format!("{prefix}{path}")));
        }
    }
    routes
}

/// The text between an opening parenthesis (just before `text`) and its closing one.
fn call_arguments(text: &str) -> Option<&str> {
    let mut depth = 1usize;
    let mut in_string = false;
    for (index, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[..index]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The HTTP methods of a method-router expression (`get(a).post(b)`), upper case. Panics on
/// `any(` / `on(` / `route_service(`, which this check cannot map to methods.
fn method_calls(expression: &str) -> Vec<String> {
    let mut methods = Vec::new();
    let bytes = expression.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let c = bytes[index];
        if c.is_ascii_alphabetic() || c == b'_' {
            let end = expression[index..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(expression.len(), |offset| index + offset);
            let word = &expression[index..end];
            let preceded_by_path = index >= 1 && bytes[index - 1] == b':';
            let called = expression[end..].starts_with('(');
            if called && !preceded_by_path {
                if HTTP_METHODS.contains(&word) {
                    methods.push(word.to_uppercase());
                } else {
                    assert!(
                        !matches!(word, "any" | "on" | "route_service" | "any_service"),
                        "`{word}(` in a route: the OpenAPI route check cannot tell its methods"
                    );
                }
            }
            index = end;
        } else {
            index += 1;
        }
    }
    methods
}

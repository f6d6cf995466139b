//! The checked-in `schema.graphql` is the public contract partners read and diff: it must
//! be exactly what the server serves.

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

#[test]
fn schema_graphql_matches_the_code() {
    let sdl = profilegraph_schema::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(SCHEMA_FILE, &sdl)
            .unwrap_or_else(|e| panic!("cannot write {SCHEMA_FILE}: {e}"));
        println!("wrote {SCHEMA_FILE}");
        return;
    }
    let checked_in = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_else(|e| {
        panic!(
            "cannot read {SCHEMA_FILE}: {e}\n\
             Generate it with `UPDATE_SCHEMA=1 cargo test --test api schema` \
             (or `cargo run -- schema > schema.graphql`)."
        )
    });
    if checked_in != sdl {
        let first_difference = checked_in
            .lines()
            .zip(sdl.lines())
            .enumerate()
            .find(|(_, (file, code))| file != code)
            .map_or_else(
                || {
                    format!(
                        "one is a prefix of the other ({} lines in the file, {} from the code)",
                        checked_in.lines().count(),
                        sdl.lines().count()
                    )
                },
                |(n, (file, code))| {
                    format!(
                        "first difference at line {}:\n  schema.graphql: {file}\n  code:           {code}",
                        n + 1
                    )
                },
            );
        panic!(
            "schema.graphql is out of date with the code; {first_difference}\n\
             If the change is intended, regenerate it with \
             `UPDATE_SCHEMA=1 cargo test --test api schema` \
             (or `cargo run -- schema > schema.graphql`) and commit it."
        );
    }
    assert!(sdl.contains("schema {"), "the SDL names its root types");
}

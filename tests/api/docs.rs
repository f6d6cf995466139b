//! The schema reads like documentation in GraphiQL: every type, field, argument, input
//! field and enum value the server serves has a description, as introspection shows it.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::data;

/// Scalars every GraphQL server has; the spec describes them, not us.
const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

const INTROSPECTION: &str = "{ __schema { types {
    kind name description
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description }
} } }";

fn described(item: &Value) -> bool {
    item["description"]
        .as_str()
        .is_some_and(|d| !d.trim().is_empty())
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

both_backends!(
    every_type_field_argument_and_enum_value_is_described,
    |app: TestApp| async move {
        let d = data(&app, &app.demo_token, INTROSPECTION, json!({})).await;
        let mut checked: Vec<String> = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        let mut check = |what: String, item: &Value| {
            if !described(item) {
                missing.push(what.clone());
            }
            checked.push(what);
        };
        for ty in list(&d["__schema"]["types"]) {
            let name = ty["name"].as_str().unwrap();
            if name.starts_with("__") || BUILT_IN_SCALARS.contains(&name) {
                continue;
            }
            let kind = ty["kind"].as_str().unwrap();
            check(format!("{kind} {name}"), ty);
            for field in list(&ty["fields"]) {
                let field_name = field["name"].as_str().unwrap();
                check(format!("field {name}.{field_name}"), field);
                for arg in list(&field["args"]) {
                    let arg_name = arg["name"].as_str().unwrap();
                    check(format!("argument {name}.{field_name}({arg_name})"), arg);
                }
            }
            for input_field in list(&ty["inputFields"]) {
                let field_name = input_field["name"].as_str().unwrap();
                check(format!("input field {name}.{field_name}"), input_field);
            }
            for value in list(&ty["enumValues"]) {
                let value_name = value["name"].as_str().unwrap();
                check(format!("enum value {name}.{value_name}"), value);
            }
        }

        assert!(
            missing.is_empty(),
            "{} of {} schema elements have no description:\n  {}",
            missing.len(),
            checked.len(),
            missing.join("\n  ")
        );
        // The walk did reach every kind of element.
        for expected in [
            "OBJECT Profile",
            "field Profile.name",
            "argument Profile.notes(first)",
            "field Mutation.createProfile",
            "argument Mutation.createProfile(input)",
            "INPUT_OBJECT CreateProfileInput",
            "input field CreateProfileInput.contactIds",
            "ENUM CustomFieldType",
            "enum value CustomFieldType.MULTI_SELECT",
            "INTERFACE Node",
            "field Node.id",
            "SCALAR DateTime",
            "SCALAR JSON",
        ] {
            assert!(
                checked.iter().any(|c| c == expected),
                "`{expected}` was not checked; checked: {checked:#?}"
            );
        }
    }
);

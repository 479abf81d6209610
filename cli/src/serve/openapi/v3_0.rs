//! The OpenAPI 3.1 document rewritten as OpenAPI 3.0, for generators that read
//! only 3.0 (NSwag, older openapi-generator versions).
//!
//! 3.1 schemas are JSON Schema 2020-12; 3.0 schemas are an older subset. What
//! `utoipa` writes that 3.0 says differently: a `null` type (in a type list, or
//! as an `anyOf`/`oneOf` choice) is `nullable: true`; a `$ref` ignores its
//! siblings, so a described or nullable reference is an `allOf` of one; `const`
//! is an `enum` of one; `examples` is one `example`; numeric `exclusiveMinimum`
//! and `exclusiveMaximum` are booleans beside `minimum` and `maximum`; binary
//! content is `format: binary`. `utoipa` writes 3.1 only, and no maintained
//! crate converts, so this module does, and its tests hold each rule.

use serde_json::{json, Map, Value};

/// The 3.0 version written.
const VERSION: &str = "3.0.3";

/// Rewrites a 3.1 document as 3.0.
pub fn downgrade(mut doc: Value) -> Value {
    if let Some(root) = doc.as_object_mut() {
        root.insert("openapi".into(), json!(VERSION));
        root.remove("jsonSchemaDialect");
        root.remove("webhooks");
        if let Some(license) = root
            .get_mut("info")
            .and_then(|i| i.get_mut("license"))
            .and_then(Value::as_object_mut)
        {
            license.remove("identifier");
        }
        if let Some(schemas) = root
            .get_mut("components")
            .and_then(|c| c.get_mut("schemas"))
            .and_then(Value::as_object_mut)
        {
            schemas.values_mut().for_each(schema);
        }
        if let Some(paths) = root.get_mut("paths") {
            schemas_in(paths);
        }
    }
    doc
}

/// Rewrites every schema under `value` (`schema` of parameters, media types and
/// headers).
fn schemas_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "schema" {
                    schema(inner);
                } else {
                    schemas_in(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(schemas_in),
        _ => {}
    }
}

/// Rewrites one schema and the schemas inside it.
fn schema(value: &mut Value) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = map.get_mut(key) {
            schema(inner);
        }
    }
    if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(schema);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(items) = map.get_mut(key).and_then(Value::as_array_mut) {
            items.iter_mut().for_each(schema);
        }
    }
    type_list(map);
    null_choice(map, "anyOf");
    null_choice(map, "oneOf");
    if let Some(value) = map.remove("const") {
        map.insert("enum".into(), json!([value]));
    }
    if let Some(Value::Array(mut examples)) = map.remove("examples") {
        if !examples.is_empty() {
            map.insert("example".into(), examples.swap_remove(0));
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if map.get(exclusive).is_some_and(Value::is_number) {
            if let Some(limit) = map.remove(exclusive) {
                map.insert(bound.into(), limit);
                map.insert(exclusive.into(), json!(true));
            }
        }
    }
    let encoded = map.remove("contentEncoding");
    if map.remove("contentMediaType").is_some() || encoded.is_some() {
        let format = match encoded.as_ref().and_then(Value::as_str) {
            Some("base64") => "byte",
            _ => "binary",
        };
        map.insert("type".into(), json!("string"));
        map.insert("format".into(), json!(format));
    }
    reference_alone(map);
}

/// `type: ["string", "null"]` as `type: string, nullable: true`.
fn type_list(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let nullable = types.iter().any(|t| t == "null");
    let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    map.remove("type");
    match rest.as_slice() {
        [] => {}
        [one] => {
            map.insert("type".into(), one.clone());
        }
        many => {
            let choices = many.iter().map(|t| json!({"type": t})).collect();
            map.insert("anyOf".into(), Value::Array(choices));
        }
    }
    if nullable {
        map.insert("nullable".into(), json!(true));
    }
}

/// `anyOf: [{type: null}, X]` as X with `nullable: true`.
fn null_choice(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(choices)) = map.get(key) else {
        return;
    };
    let is_null = |c: &Value| c.get("type").is_some_and(|t| t == "null");
    if !choices.iter().any(is_null) {
        return;
    }
    let rest: Vec<Value> = choices.iter().filter(|c| !is_null(c)).cloned().collect();
    map.remove(key);
    map.insert("nullable".into(), json!(true));
    match rest.as_slice() {
        [] => {}
        [one] => match one.as_object() {
            Some(inner) if !inner.contains_key("$ref") => {
                for (k, v) in inner {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {
                map.insert("allOf".into(), json!([one]));
            }
        },
        many => {
            map.insert(key.into(), Value::Array(many.to_vec()));
        }
    }
}

/// A `$ref` with siblings (3.0 ignores them) as an `allOf` of the reference.
fn reference_alone(map: &mut Map<String, Value>) {
    if map.len() > 1 {
        if let Some(reference) = map.remove("$ref") {
            map.insert("allOf".into(), json!([{"$ref": reference}]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(schema_31: Value) -> Value {
        let doc = json!({"openapi": "3.1.0", "components": {"schemas": {"S": schema_31}}});
        downgrade(doc)["components"]["schemas"]["S"].clone()
    }

    #[test]
    fn null_types_become_nullable() {
        assert_eq!(
            one(json!({"type": ["string", "null"]})),
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            one(json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/T"}]})),
            json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/T"}]})
        );
        assert_eq!(
            one(
                json!({"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "integer"}}]})
            ),
            json!({"nullable": true, "type": "array", "items": {"type": "integer"}})
        );
    }

    #[test]
    fn schema_words_3_0_lacks_are_rewritten() {
        assert_eq!(one(json!({"const": "x"})), json!({"enum": ["x"]}));
        assert_eq!(
            one(json!({"type": "integer", "exclusiveMinimum": 0})),
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
        );
        assert_eq!(
            one(json!({"contentMediaType": "application/octet-stream"})),
            json!({"type": "string", "format": "binary"})
        );
        assert_eq!(
            one(json!({"$ref": "#/components/schemas/T", "description": "d"})),
            json!({"description": "d", "allOf": [{"$ref": "#/components/schemas/T"}]})
        );
        assert_eq!(
            one(
                json!({"type": "object", "properties": {"a": {"type": ["integer", "null"], "examples": [1]}}})
            ),
            json!({"type": "object", "properties": {"a": {"type": "integer", "nullable": true, "example": 1}}})
        );
    }

    #[test]
    fn the_service_document_has_no_3_1_schema_left() {
        let doc: Value = serde_json::from_str(&super::super::documents().v3_0).unwrap();
        assert_eq!(doc["openapi"], VERSION);
        let text = doc.to_string();
        for word in [
            "\"type\":\"null\"",
            "\"const\"",
            "\"examples\":[",
            "\"type\":[",
        ] {
            assert!(!text.contains(word), "{word} left in the 3.0 document");
        }
        fn refs_alone(value: &Value) {
            match value {
                Value::Object(map) => {
                    if map.contains_key("$ref") {
                        assert_eq!(map.len(), 1, "a $ref with siblings: {value}");
                    }
                    map.values().for_each(refs_alone);
                }
                Value::Array(items) => items.iter().for_each(refs_alone),
                _ => {}
            }
        }
        refs_alone(&doc["components"]);
    }
}

//! Borrowed JSON: a record is read from its bytes once, as an object of keys and raw
//! values that point into the input, and only the values a reader asks for are
//! parsed. Nothing is built for the fields a rule never reads, which is most of a
//! CRM record. Duplicate keys are refused: a record that says `id` twice has no id
//! anyone can trust.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A key, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON object as its entries, in input order, values unparsed.
#[derive(Debug, Clone, Default)]
pub struct Object<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Why a text is not the JSON object a reader expects.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectError {
    /// Not JSON: serde_json's message (it has line and column).
    Malformed(String),
    /// JSON, but not an object.
    NotObject(String),
    /// A key given twice.
    Duplicate(String),
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::Malformed(message) | ObjectError::NotObject(message) => {
                f.write_str(message)
            }
            ObjectError::Duplicate(key) => {
                write!(
                    f,
                    "the key `{key}` is given twice; a record may name a field once"
                )
            }
        }
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    // Records have tens of keys: a scan beats hashing here.
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(DuplicateKey(key.into_owned())));
                    }
                    entries.push((key, value));
                }
                Ok(Object { entries })
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// Carried through serde's error type to tell a duplicate key from malformed JSON.
struct DuplicateKey(String);

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DUPLICATE_MARK}{}", self.0)
    }
}

const DUPLICATE_MARK: &str = "\u{0}duplicate key:";

fn object_error(e: serde_json::Error) -> ObjectError {
    let text = e.to_string();
    match text.strip_prefix(DUPLICATE_MARK) {
        Some(rest) => {
            // serde_json appends " at line L column C" to custom errors.
            let key = rest
                .rsplit_once(" at line ")
                .map_or(rest, |(key, _)| key)
                .to_owned();
            ObjectError::Duplicate(key)
        }
        None if e.classify() == serde_json::error::Category::Data => ObjectError::NotObject(text),
        None => ObjectError::Malformed(text),
    }
}

impl<'a> Object<'a> {
    /// Reads `text` as one JSON object.
    pub fn parse(text: &'a str) -> Result<Object<'a>, ObjectError> {
        serde_json::from_str(text).map_err(object_error)
    }

    /// Reads a raw value as an object.
    pub fn of(raw: &'a RawValue) -> Result<Object<'a>, ObjectError> {
        Object::parse(raw.get())
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Whether the object has the key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The entries with their borrowed keys, in input order.
    pub fn entries(&self) -> &[(Cow<'a, str>, &'a RawValue)] {
        &self.entries
    }

    /// The entries, in input order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// The keys, in input order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, owned keys: for keeping an object beyond its key borrow.
    pub fn into_entries(self) -> Vec<(Cow<'a, str>, &'a RawValue)> {
        self.entries
    }
}

/// The elements of a JSON array, unparsed.
pub fn array(raw: &RawValue) -> Result<Vec<&RawValue>, String> {
    struct Items<'a>(Vec<&'a RawValue>);
    impl<'de> Deserialize<'de> for Items<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct ItemsVisitor;
            impl<'de> Visitor<'de> for ItemsVisitor {
                type Value = Items<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON array")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'de>, A::Error> {
                    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                    while let Some(item) = seq.next_element::<&'de RawValue>()? {
                        items.push(item);
                    }
                    Ok(Items(items))
                }
            }
            d.deserialize_seq(ItemsVisitor)
        }
    }
    serde_json::from_str::<Items<'_>>(raw.get())
        .map(|items| items.0)
        .map_err(|e| e.to_string())
}

/// A JSON value as a reader sees it: scalars read from their text, objects and
/// arrays left raw.
#[derive(Debug, Clone)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (so `0123` stays recognisable and big ids stay exact).
    Number(&'a str),
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// An object, raw.
    Object(&'a RawValue),
    /// An array, raw.
    Array(&'a RawValue),
}

impl PartialEq for Scalar<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => true,
            (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
            (Scalar::Number(a), Scalar::Number(b)) => a == b,
            (Scalar::Str(a), Scalar::Str(b)) => a == b,
            (Scalar::Object(a), Scalar::Object(b)) | (Scalar::Array(a), Scalar::Array(b)) => {
                a.get() == b.get()
            }
            _ => false,
        }
    }
}

impl<'a> Scalar<'a> {
    /// Reads a raw value.
    pub fn of(raw: &'a RawValue) -> Scalar<'a> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => {
                let inner = &text[1..text.len() - 1];
                if inner.contains('\\') {
                    // Escapes: let serde_json unescape (it validated them already).
                    Scalar::Str(Cow::Owned(
                        serde_json::from_str::<String>(text).unwrap_or_default(),
                    ))
                } else {
                    Scalar::Str(Cow::Borrowed(inner))
                }
            }
            Some(b't') => Scalar::Bool(true),
            Some(b'f') => Scalar::Bool(false),
            Some(b'n') => Scalar::Null,
            Some(b'{') => Scalar::Object(raw),
            Some(b'[') => Scalar::Array(raw),
            _ => Scalar::Number(text),
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number's value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// A whole number's value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// A boolean's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// Whether it is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Scalar::Object(_))
    }

    /// Whether it is an array.
    pub fn is_array(&self) -> bool {
        matches!(self, Scalar::Array(_))
    }

    /// Whether it is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Scalar::Str(_))
    }

    /// The value as JSON text would show it in a message: strings in backticks.
    pub fn shown(&self) -> String {
        match self {
            Scalar::Str(s) => format!("`{s}`"),
            Scalar::Null => "null".to_owned(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Number(n) => (*n).to_owned(),
            Scalar::Object(_) => "an object".to_owned(),
            Scalar::Array(_) => "an array".to_owned(),
        }
    }

    /// The value as a map key (option values are keyed by their text).
    pub fn key(&self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s.clone()),
            Scalar::Number(n) => Some(Cow::Borrowed(n)),
            Scalar::Bool(true) => Some(Cow::Borrowed("true")),
            Scalar::Bool(false) => Some(Cow::Borrowed("false")),
            _ => None,
        }
    }

    /// An owned JSON value (for the few places that keep one, like native actions).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Scalar::Null => serde_json::Value::Null,
            Scalar::Bool(b) => (*b).into(),
            Scalar::Number(n) => serde_json::from_str(n).unwrap_or(serde_json::Value::Null),
            Scalar::Str(s) => s.as_ref().into(),
            Scalar::Object(raw) | Scalar::Array(raw) => {
                serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_borrow_their_keys_and_values() {
        let text = r#"{"a": 1, "b\u0041": "x\"y", "c": {"d": [1, 2]}, "e": null}"#;
        let o = Object::parse(text).unwrap();
        assert_eq!(o.len(), 4);
        assert_eq!(Scalar::of(o.get("a").unwrap()).as_f64(), Some(1.0));
        assert_eq!(Scalar::of(o.get("bA").unwrap()).as_str(), Some("x\"y"));
        assert!(Scalar::of(o.get("c").unwrap()).is_object());
        assert!(Scalar::of(o.get("e").unwrap()).is_null());
        let c = Object::of(o.get("c").unwrap()).unwrap();
        assert_eq!(array(c.get("d").unwrap()).unwrap().len(), 2);
    }

    #[test]
    fn a_duplicate_key_is_named() {
        let err = Object::parse(r#"{"id": "a", "x": 1, "id": "b"}"#).unwrap_err();
        assert_eq!(err, ObjectError::Duplicate("id".to_owned()));
        assert!(err.to_string().contains("`id` is given twice"));
    }

    #[test]
    fn malformed_json_keeps_the_parsers_position() {
        let err = Object::parse("{\"a\": }").unwrap_err();
        assert!(matches!(err, ObjectError::Malformed(m) if m.contains("column")));
        assert!(matches!(
            Object::parse("[1]"),
            Err(ObjectError::NotObject(_))
        ));
    }

    #[test]
    fn numbers_keep_their_text() {
        let o = Object::parse(r#"{"big": 123456789012345678901, "zero": 0123}"#);
        // Leading zeros are not JSON: the parser refuses them.
        assert!(o.is_err());
        let o = Object::parse(r#"{"big": 123456789012345678901}"#).unwrap();
        assert_eq!(
            Scalar::of(o.get("big").unwrap()),
            Scalar::Number("123456789012345678901")
        );
    }
}

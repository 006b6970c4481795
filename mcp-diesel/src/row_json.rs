//! A row as agents see it, serialized straight to JSON text: the model's own `Serialize`
//! impl with hidden fields left out, an optional projection, and related rows appended,
//! without a [`Value`] tree in between. Rows that do not serialize as a struct or a map
//! take the tree way ([`agent_value`]), which gives the same JSON value.

use serde::ser::{self, Error as _, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::{Map, Value};

use mcp_core::protocol::StructuredContent;

use crate::ModelInfo;

/// Related rows to append to a row: the relation's name and its JSON.
pub(crate) type Extra<'a> = [(&'a str, &'a Value)];

/// Append the row as agents see it to `out`, as compact JSON.
pub(crate) fn write_row<M: ModelInfo>(
    out: &mut Vec<u8>,
    row: &M,
    fields: Option<&[String]>,
    extra: &Extra<'_>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    if serde_json::to_writer(&mut *out, &AgentRow { row, hidden: M::HIDDEN, fields, extra }).is_ok() {
        return Ok(());
    }
    // Not a struct or a map (or a map with keys that are not strings): the tree way.
    out.truncate(start);
    serde_json::to_writer(&mut *out, &agent_value(row, fields, extra)?)
}

/// The row as agents see it, as structured content (JSON text).
pub(crate) fn row_content<M: ModelInfo>(row: &M, extra: &Extra<'_>) -> Result<StructuredContent, serde_json::Error> {
    match StructuredContent::from_serialize(&AgentRow { row, hidden: M::HIDDEN, fields: None, extra }) {
        Ok(content) => Ok(content),
        Err(_) => agent_value(row, None, extra).map(|obj| StructuredContent::from(Value::Object(obj))),
    }
}

/// The row as agents see it, as a tree: what [`write_row`] writes.
pub(crate) fn agent_value<M: ModelInfo>(
    row: &M,
    fields: Option<&[String]>,
    extra: &Extra<'_>,
) -> Result<Map<String, Value>, serde_json::Error> {
    let mut obj = row.to_agent_json()?;
    if let Some(f) = fields {
        obj.retain(|k, _| f.contains(k));
    }
    for (name, value) in extra {
        obj.insert((*name).to_owned(), (*value).clone());
    }
    Ok(obj)
}

/// A row and what to leave out of it and add to it.
struct AgentRow<'a, T> {
    row: &'a T,
    hidden: &'a [&'static str],
    fields: Option<&'a [String]>,
    extra: &'a Extra<'a>,
}

impl<T> AgentRow<'_, T> {
    /// Whether the row's own field `name` is written: not hidden, projected if there is
    /// a projection, and not replaced by a related row of the same name.
    fn keeps(&self, name: &str) -> bool {
        !self.hidden.contains(&name)
            && self.fields.is_none_or(|f| f.iter().any(|n| n == name))
            && !self.extra.iter().any(|(n, _)| *n == name)
    }

    fn append<M: SerializeMap>(&self, mut map: M) -> Result<M::Ok, M::Error> {
        for (name, value) in self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<T: Serialize> Serialize for AgentRow<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.row.serialize(Filter { inner: serializer, row: self })
    }
}

/// The serializer the row's own `Serialize` impl talks to: structs and maps pass through
/// it, filtered; anything else is refused (and [`write_row`] takes the tree way).
struct Filter<'a, S, T> {
    inner: S,
    row: &'a AgentRow<'a, T>,
}

fn refused<E: ser::Error>() -> E {
    E::custom("a row must serialize as a struct or a map")
}

macro_rules! refuse {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<S::Ok, S::Error> {
            Err(refused())
        }
    )*};
}

impl<'a, S: Serializer, T> Serializer for Filter<'a, S, T> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = FilterMap<'a, S::SerializeMap, T>;
    type SerializeStruct = FilterStruct<'a, S::SerializeMap, T>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<V: Serialize + ?Sized>(self, _: &V) -> Result<S::Ok, S::Error> {
        Err(refused())
    }

    fn serialize_newtype_struct<V: Serialize + ?Sized>(self, _: &'static str, value: &V) -> Result<S::Ok, S::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<S::Ok, S::Error> {
        Err(refused())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Err(refused())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, S::Error> {
        Err(refused())
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        Err(refused())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Err(refused())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(FilterMap { map: self.inner.serialize_map(None)?, row: self.row, key: None })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, S::Error> {
        Ok(FilterStruct { map: self.inner.serialize_map(None)?, row: self.row })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(refused())
    }
}

/// A struct row: its kept fields, then the related rows.
struct FilterStruct<'a, M, T> {
    map: M,
    row: &'a AgentRow<'a, T>,
}

impl<M: SerializeMap, T> SerializeStruct for FilterStruct<'_, M, T> {
    type Ok = M::Ok;
    type Error = M::Error;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, key: &'static str, value: &V) -> Result<(), M::Error> {
        if self.row.keeps(key) { self.map.serialize_entry(key, value) } else { Ok(()) }
    }

    fn end(self) -> Result<M::Ok, M::Error> {
        self.row.append(self.map)
    }
}

/// A map row (a struct with `#[serde(flatten)]` fields serializes as one): its kept
/// entries, then the related rows. Keys must be strings.
struct FilterMap<'a, M, T> {
    map: M,
    row: &'a AgentRow<'a, T>,
    key: Option<String>,
}

impl<M: SerializeMap, T> SerializeMap for FilterMap<'_, M, T> {
    type Ok = M::Ok;
    type Error = M::Error;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), M::Error> {
        match serde_json::to_value(key) {
            Ok(Value::String(k)) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(M::Error::custom("a row's keys must be strings")),
        }
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), M::Error> {
        match self.key.take() {
            Some(k) if self.row.keeps(&k) => self.map.serialize_entry(&k, value),
            _ => Ok(()),
        }
    }

    fn end(self) -> Result<M::Ok, M::Error> {
        self.row.append(self.map)
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::{Value, json};

    use super::{AgentRow, Extra};

    fn text<T: Serialize>(row: &T, hidden: &[&'static str], fields: Option<&[String]>, extra: &Extra<'_>) -> String {
        serde_json::to_string(&AgentRow { row, hidden, fields, extra }).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[derive(Serialize)]
    struct Post {
        id: i32,
        #[serde(rename = "headline")]
        title: String,
        secret: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    #[derive(Serialize)]
    struct Flat {
        id: i32,
        #[serde(flatten)]
        more: std::collections::BTreeMap<String, Value>,
    }

    fn post() -> Post {
        Post { id: 1, title: "Hi \"there\"".into(), secret: "s".into(), note: None }
    }

    #[test]
    fn structs_lose_hidden_fields_keep_serde_names_and_gain_related_rows() {
        let author = json!({ "name": "Ann" });
        assert_eq!(text(&post(), &["secret"], None, &[]), r#"{"id":1,"headline":"Hi \"there\""}"#);
        assert_eq!(
            text(&post(), &["secret"], None, &[("author", &author)]),
            r#"{"id":1,"headline":"Hi \"there\"","author":{"name":"Ann"}}"#
        );
        let only_id = ["id".to_owned()];
        assert_eq!(text(&post(), &["secret"], Some(&only_id), &[]), r#"{"id":1}"#);
        // A related row replaces a field of the same name rather than repeating the key.
        assert_eq!(text(&post(), &["secret", "headline"], None, &[("id", &author)]), r#"{"id":{"name":"Ann"}}"#);
    }

    #[test]
    fn maps_are_filtered_like_structs() {
        let row = Flat { id: 2, more: [("secret".to_owned(), json!(1)), ("x".to_owned(), json!([1]))].into() };
        assert_eq!(text(&row, &["secret"], None, &[]), r#"{"id":2,"x":[1]}"#);
    }

    #[test]
    fn anything_but_a_struct_or_a_map_is_refused() {
        assert!(text(&5, &[], None, &[]).starts_with("error: a row must serialize as a struct or a map"));
        assert!(text(&vec![1], &[], None, &[]).starts_with("error:"));
        let numbered: std::collections::BTreeMap<i32, i32> = [(1, 2)].into();
        assert!(text(&numbered, &[], None, &[]).starts_with("error: a row's keys must be strings"));
    }
}

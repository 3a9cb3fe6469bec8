//! Errors from reading an object's BTF and from decoding records with it.

/// Errors reading an object's BTF or compiling a decode plan from it.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The raw bytes are not a BTF blob btf-rs can parse.
    #[error("cannot parse the object's BTF")]
    Parse(#[source] btf_rs::Error),
    /// A type id does not exist in the object's BTF.
    #[error("cannot resolve BTF type id {id}")]
    TypeId {
        /// The id that failed.
        id: u32,
        /// Why btf-rs could not resolve it.
        #[source]
        source: btf_rs::Error,
    },
    /// A type name given by the user is not well formed (e.g. `struct` without a name).
    #[error(
        "`{spec}` is not a type name (expected `struct NAME`, `union NAME`, `enum NAME` or NAME)"
    )]
    BadTypeSpec {
        /// What the user wrote.
        spec: String,
    },
    /// No type with the requested name exists in the object.
    #[error("no type `{spec}` in the object's BTF{}", did_you_mean(suggestion))]
    NoType {
        /// What the user asked for.
        spec: String,
        /// The closest existing type name, if one is close enough.
        suggestion: Option<String>,
    },
    /// A type (or one of its members) cannot be decoded generically.
    #[error("cannot decode `{path}`: {reason}")]
    Unsupported {
        /// The type and member path, e.g. `struct event.f`.
        path: String,
        /// What is not supported.
        reason: &'static str,
    },
    /// A member lies outside the struct that contains it (malformed BTF).
    #[error("member `{path}` lies outside its enclosing type (malformed BTF)")]
    OutOfBounds {
        /// The type and member path.
        path: String,
    },
    /// Types nest deeper than the decoder follows (or a typedef loop in malformed BTF).
    #[error("type `{type_name}` nests deeper than {limit} levels")]
    TooDeep {
        /// The type being compiled.
        type_name: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A type compiles to a plan too large to decode (malformed BTF: overlapping members
    /// nested many levels deep, or arrays of billions of zero-sized elements).
    #[error("type `{type_name}` is too large to decode (more than {limit} {what})")]
    TooLarge {
        /// The type (or member path) being compiled.
        type_name: String,
        /// The limit exceeded.
        limit: usize,
        /// What is counted: plan nodes, or values per record.
        what: &'static str,
    },
    /// A `__coreship_*` variable in `.coreship` does not follow coreship.h's convention.
    #[error("bad output marker `{var}` in section .coreship: {reason}")]
    BadMarker {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A histogram key type is not the `struct { key; __u32 slot; }` coreship.h declares.
    #[error("`{type_name}` is not a coreship histogram key: {reason}")]
    NotHistKey {
        /// The key type.
        type_name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// Errors decoding one record (event, map key) with a compiled [`Layout`](crate::Layout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record is smaller than its BTF type.
    #[error("record for `{type_name}` is {actual} bytes, expected at least {expected}")]
    TooShort {
        /// The type the record was decoded as.
        type_name: String,
        /// The type's size.
        expected: usize,
        /// The record's size.
        actual: usize,
    },
    /// A histogram key's slot is beyond the last log2 slot (a corrupt key).
    #[error("histogram slot {slot} is out of range (at most 64)")]
    BadSlot {
        /// The slot read from the key.
        slot: u32,
    },
}

coreship_registry::debug_as_display!(BtfError);

//! [`Record`]: one event as an application receives it from a [`RunningProbe`], read either
//! as a decoded [`Value`] or, for apps with their own `#[repr(C)]` struct, as bytes or a
//! size-checked [`Plain`] type.
//!
//! [`RunningProbe`]: crate::RunningProbe

use std::sync::Arc;

use crate::{DecodeError, Layout, Value};

/// Types every bit pattern of their size is a valid value of, so they can be read from a
/// record's bytes: integers, floats, arrays of them, and `#[repr(C)]` structs of such
/// fields (mirroring the probe's C struct).
///
/// # Safety
///
/// Implement this only for `#[repr(C)]` (or `#[repr(transparent)]`) types whose fields are
/// all `Plain`: no `bool`, `char`, enums, references, `NonZero*` or other types with invalid
/// bit patterns. [`Record::decode_as`] checks the size against the record's BTF type; the
/// field layout matching the C struct is the implementor's promise.
pub unsafe trait Plain: Copy + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {
        $(
            // SAFETY: every bit pattern is a valid value of a primitive integer or float.
            unsafe impl Plain for $t {}
        )*
    };
}
plain!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of `Plain` values has no bit pattern that is not a valid array.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// Why a record could not be read as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The map's record type is unknown: the probe declared the map without coreship.h.
    #[error(
        "map {map}: record type not declared; use CORESHIP_EVENTS or Probe::event_type, \
         or read the bytes"
    )]
    Undeclared {
        /// The events map.
        map: String,
    },
    /// The record is shorter than its BTF type.
    #[error("map {map}: cannot decode the record")]
    Decode {
        /// The events map.
        map: String,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// The Rust type asked for is not the size of the record's BTF type.
    #[error(
        "map {map}: records are `{type_name}` ({btf_size} bytes in the object's BTF) \
         but `{rust_type}` is {rust_size} bytes"
    )]
    SizeMismatch {
        /// The events map.
        map: String,
        /// The C type of its records.
        type_name: String,
        /// Its size in the object's BTF.
        btf_size: usize,
        /// The Rust type asked for.
        rust_type: &'static str,
        /// Its size.
        rust_size: usize,
    },
}

/// One record from an events map (ring buffer or perf event array).
#[derive(Debug, Clone)]
pub struct Record {
    pub(crate) map: Arc<str>,
    pub(crate) layout: Option<Arc<Layout>>,
    pub(crate) data: Vec<u8>,
}

impl Record {
    /// The events map it came from.
    pub fn map(&self) -> &str {
        &self.map
    }

    /// The record's bytes as the probe submitted them (perf samples may be padded).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The compiled layout of the map's record type, when the object declares one.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_deref()
    }

    /// Decodes the record from the object's BTF.
    pub fn value(&self) -> Result<Value, RecordError> {
        self.layout_or_err()?
            .decode(&self.data)
            .map_err(|source| self.decode_err(source))
    }

    /// Reads the record as the application's own `#[repr(C)]` type `T`, after checking that
    /// `T` has exactly the size of the record's BTF type and the record holds that many bytes.
    pub fn decode_as<T: Plain>(&self) -> Result<T, RecordError> {
        let layout = self.layout_or_err()?;
        let size = std::mem::size_of::<T>();
        if size != layout.size() {
            return Err(RecordError::SizeMismatch {
                map: self.map.to_string(),
                type_name: layout.type_name().to_string(),
                btf_size: layout.size(),
                rust_type: std::any::type_name::<T>(),
                rust_size: size,
            });
        }
        layout
            .check(&self.data)
            .map_err(|source| self.decode_err(source))?;
        // SAFETY: `data` holds at least `size_of::<T>()` bytes (checked just above),
        // `read_unaligned` accepts any alignment, and `T: Plain` promises that every bit
        // pattern is a valid `T`.
        Ok(unsafe { std::ptr::read_unaligned(self.data.as_ptr().cast::<T>()) })
    }

    fn layout_or_err(&self) -> Result<&Layout, RecordError> {
        self.layout().ok_or_else(|| RecordError::Undeclared {
            map: self.map.to_string(),
        })
    }

    fn decode_err(&self, source: DecodeError) -> RecordError {
        RecordError::Decode {
            map: self.map.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::testutil::exec_event;
    use crate::ObjectBtf;

    /// `struct exec_event` of bpf/execsnoop.h, as an application would mirror it.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct ExecEvent {
        ts: u64,
        pid: u32,
        ppid: u32,
        uid: u32,
        comm: [u8; 16],
        filename: [u8; 256],
    }
    // SAFETY: repr(C), integers and byte arrays only.
    unsafe impl Plain for ExecEvent {}

    fn record(data: Vec<u8>) -> Record {
        let (btf, id, _) = exec_event();
        let layout = ObjectBtf::from_bytes(&btf).unwrap().layout(id).unwrap();
        Record {
            map: "events".into(),
            layout: Some(Arc::new(layout)),
            data,
        }
    }

    #[test]
    fn decodes_as_value_and_as_the_apps_struct() {
        let r = record(exec_event().2);
        let v = r.value().unwrap();
        assert_eq!(v.field("pid"), Some(&Value::Uint(4242)));
        assert_eq!(v.field("comm"), Some(&Value::Str("bash".into())));
        let e: ExecEvent = r.decode_as().unwrap();
        assert_eq!((e.pid, e.ppid, e.uid), (4242, 1, 1000));
        assert_eq!(&e.comm[..5], b"bash\0");
    }

    #[test]
    fn refuses_a_type_of_another_size() {
        let err = record(exec_event().2).decode_as::<[u64; 4]>().unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::SizeMismatch {
                    btf_size: 296,
                    rust_size: 32,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("struct exec_event"), "{err}");
    }

    #[test]
    fn short_records_and_undeclared_maps_are_errors() {
        let short = record(vec![0; 10]);
        assert!(matches!(
            short.decode_as::<ExecEvent>(),
            Err(RecordError::Decode { .. })
        ));
        assert!(matches!(short.value(), Err(RecordError::Decode { .. })));
        let raw = Record {
            map: "raw".into(),
            layout: None,
            data: vec![1, 2],
        };
        assert_eq!(raw.bytes(), &[1, 2]);
        assert!(matches!(
            raw.value(),
            Err(RecordError::Undeclared { map }) if map == "raw"
        ));
    }
}

//! libbpf's BTF parser and C dumper behind a safe face: `btf__parse`, `btf_dump__new` with a
//! printf callback writing through `vfprintf` into an `open_memstream` buffer, and the struct
//! lookups that tell which arch the BTF came from.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{BtfArch, VmlinuxError};
use crate::libbpf_log::{self, LibbpfError};

/// Owned `struct btf *`.
pub(super) struct Btf(*mut libbpf_sys::btf);

impl Btf {
    pub(super) fn parse(path: &Path) -> Result<Btf, VmlinuxError> {
        let err = |source| VmlinuxError::Parse {
            path: path.to_path_buf(),
            source,
        };
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| err(LibbpfError::from_errno(libc::EINVAL, Vec::new())))?;
        let ((ptr, errno), log) = libbpf_log::capture(|| {
            // SAFETY: c_path is a valid NUL-terminated string; a null btf_ext out-pointer is
            // allowed.
            let ptr = unsafe { libbpf_sys::btf__parse(c_path.as_ptr(), std::ptr::null_mut()) };
            // libbpf 1.x returns NULL and sets errno.
            (ptr, io::Error::last_os_error().raw_os_error().unwrap_or(0))
        });
        if ptr.is_null() {
            return Err(err(LibbpfError::from_errno(errno, log)));
        }
        Ok(Btf(ptr))
    }

    pub(super) fn type_count(&self) -> u32 {
        // SAFETY: self.0 is a valid btf from btf__parse.
        unsafe { libbpf_sys::btf__type_cnt(self.0) }
    }

    fn find_struct(&self, name: &CStr) -> Option<u32> {
        // SAFETY: valid btf and NUL-terminated name.
        let id = unsafe {
            libbpf_sys::btf__find_by_name_kind(self.0, name.as_ptr(), libbpf_sys::BTF_KIND_STRUCT)
        };
        u32::try_from(id).ok().filter(|&id| id > 0)
    }

    /// Names of the members of struct `id`.
    fn member_names(&self, id: u32) -> Vec<String> {
        // SAFETY: id came from btf__find_by_name_kind, so btf__type_by_id returns a valid type.
        let t = unsafe { libbpf_sys::btf__type_by_id(self.0, id) };
        if t.is_null() {
            return Vec::new();
        }
        // SAFETY: t points to a btf_type inside the btf's data, which lives as long as self.
        let info = unsafe { (*t).info };
        let vlen = (info & 0xffff) as usize;
        // SAFETY: for struct kinds, `vlen` btf_member records directly follow the btf_type
        // (what libbpf's inline btf_members() computes).
        let members =
            unsafe { std::slice::from_raw_parts(t.add(1).cast::<libbpf_sys::btf_member>(), vlen) };
        members
            .iter()
            .filter_map(|m| {
                // SAFETY: name_off is an offset into this btf's string section.
                let name = unsafe { libbpf_sys::btf__name_by_offset(self.0, m.name_off) };
                // SAFETY: libbpf returns a NUL-terminated string inside the btf, or NULL.
                (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) })
            })
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    pub(super) fn arch(&self) -> Option<BtfArch> {
        if self.find_struct(c"user_pt_regs").is_some() {
            return Some(BtfArch::Arm64);
        }
        let pt_regs = self.find_struct(c"pt_regs")?;
        self.member_names(pt_regs)
            .iter()
            .any(|m| m == "r15")
            .then_some(BtfArch::X86)
    }

    /// Every type, in id order, as C.
    pub(super) fn dump_c(&self, path: &Path) -> Result<Vec<u8>, VmlinuxError> {
        let stream = MemStream::new().map_err(VmlinuxError::Buffer)?;
        // SAFETY: valid btf; the callback only writes to ctx, a FILE that outlives the dumper
        // (freed below before the stream is closed).
        let d = unsafe {
            libbpf_sys::btf_dump__new(
                self.0,
                Some(printf_to_file),
                stream.file.cast(),
                std::ptr::null(),
            )
        };
        if d.is_null() {
            return Err(VmlinuxError::Dump {
                path: path.to_path_buf(),
                type_id: 0,
                source: LibbpfError::from_errno(
                    io::Error::last_os_error().raw_os_error().unwrap_or(0),
                    Vec::new(),
                ),
            });
        }
        let (result, log) = libbpf_log::capture(|| {
            for id in 1..self.type_count() {
                // SAFETY: d is a valid dumper and id < btf__type_cnt.
                let rc = unsafe { libbpf_sys::btf_dump__dump_type(d, id) };
                if rc < 0 {
                    return Err((id, rc));
                }
            }
            Ok(())
        });
        let result = result.map_err(|(type_id, rc)| VmlinuxError::Dump {
            path: path.to_path_buf(),
            type_id,
            source: LibbpfError::from_errno(rc, log),
        });
        // SAFETY: d came from btf_dump__new and is freed once.
        unsafe { libbpf_sys::btf_dump__free(d) };
        result?;
        stream.finish().map_err(VmlinuxError::Buffer)
    }
}

impl Drop for Btf {
    fn drop(&mut self) {
        // SAFETY: self.0 came from btf__parse and is freed once.
        unsafe { libbpf_sys::btf__free(self.0) };
    }
}

unsafe extern "C" {
    // Declared here with the va_list type libbpf-sys's bindings pass to btf_dump callbacks.
    fn vfprintf(
        stream: *mut libc::FILE,
        format: *const c_char,
        ap: *mut libbpf_sys::__va_list_tag,
    ) -> c_int;
}

/// btf_dump's printf callback: formats into the `FILE *` passed as ctx.
unsafe extern "C" fn printf_to_file(
    ctx: *mut c_void,
    fmt: *const c_char,
    args: *mut libbpf_sys::__va_list_tag,
) {
    // SAFETY: ctx is the FILE * given to btf_dump__new; fmt and args come from libbpf as a
    // matching printf format and va_list.
    unsafe { vfprintf(ctx.cast(), fmt, args) };
}

/// A `FILE *` writing into a growing buffer (`open_memstream`).
struct MemStream {
    file: *mut libc::FILE,
    /// Where the C library records the buffer and its length; boxed so it never moves.
    loc: Box<(*mut c_char, libc::size_t)>,
}

impl MemStream {
    fn new() -> io::Result<MemStream> {
        let mut loc = Box::new((std::ptr::null_mut(), 0));
        // SAFETY: both out-pointers point into a heap allocation owned by the returned
        // MemStream, so they stay valid until fclose.
        let file = unsafe { libc::open_memstream(&mut loc.0, &mut loc.1) };
        if file.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(MemStream { file, loc })
    }

    /// Closes the stream and returns what was written.
    fn finish(mut self) -> io::Result<Vec<u8>> {
        // SAFETY: file is open; fclose flushes and updates loc.
        let rc = unsafe { libc::fclose(self.file) };
        self.file = std::ptr::null_mut();
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let (buf, len) = *self.loc;
        if buf.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: after fclose, buf holds len bytes allocated by the C library (freed in drop).
        Ok(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec())
    }
}

impl Drop for MemStream {
    fn drop(&mut self) {
        if !self.file.is_null() {
            // SAFETY: the stream is still open; closing it finalizes the buffer.
            unsafe { libc::fclose(self.file) };
        }
        // SAFETY: the buffer was allocated by open_memstream (or is NULL); free(NULL) is a no-op.
        unsafe { libc::free(self.loc.0.cast()) };
    }
}

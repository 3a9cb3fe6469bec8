//! BTF decoding (scaffold).

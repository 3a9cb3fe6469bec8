//! Strict standard base64 (RFC 4648, with padding), decode only.
//!
//! `minisign-verify` keeps its decoder private and does not expose key ids, so the few bytes
//! coreship reads itself (key ids, algorithms, a secret key's KDF) go through this.

/// Decodes `text`, or `None` if it is not canonical padded base64.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    // Whole groups of four digits only.
    if bytes.is_empty() || !bytes.chunks_exact(4).remainder().is_empty() {
        return None;
    }
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut acc = 0u32;
    for (i, &b) in bytes[..bytes.len() - pad].iter().enumerate() {
        acc = (acc << 6) | u32::from(value(b)?);
        if i % 4 == 3 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
        }
    }
    match pad {
        // Two or three leftover digits; the bits past the last byte must be zero (canonical form).
        1 => {
            if acc & 0b11 != 0 {
                return None;
            }
            out.extend_from_slice(&(acc >> 2).to_be_bytes()[2..]);
        }
        2 => {
            if acc & 0b1111 != 0 {
                return None;
            }
            out.push((acc >> 4) as u8);
        }
        _ => {}
    }
    Some(out)
}

fn value(b: u8) -> Option<u8> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_the_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes(), "{encoded}");
        }
    }

    #[test]
    fn rejects_what_is_not_canonical_padded_base64() {
        for bad in [
            "", "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zm9v\n", "Zm-v", "=Zm9",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}

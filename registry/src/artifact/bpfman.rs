//! bpfman-compatible images: what bpfman's `Containerfile.bytecode` builds and its image
//! manager reads — an image index of ordinary image manifests, each with an OCI image config
//! whose `config.Labels` name the programs (`io.ebpf.programs`) and maps (`io.ebpf.maps`), and
//! one tar+gzip layer holding the object.

use super::{annotations, ArtifactError, Assembler, Blob, PackOptions, Packed};
use crate::oci::{self, ANNOTATION_TITLE, MEDIA_TYPE_IMAGE_CONFIG, MEDIA_TYPE_LAYER_TAR_GZIP};
use crate::{Package, ProgramInfo, Sha256Digest};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// bpfman's label listing programs: `{"<program>": "<type>"}` as a JSON string.
pub const LABEL_PROGRAMS: &str = "io.ebpf.programs";
/// bpfman's label listing maps: `{"<map>": "<type>"}` as a JSON string.
pub const LABEL_MAPS: &str = "io.ebpf.maps";

/// bpfman's name for a program's type, from its section prefix (bpfman names attach kinds:
/// a uprobe is `uprobe`, not libbpf's `kprobe` program type).
fn bpfman_type(p: &ProgramInfo) -> String {
    let prefix = p.section.split('/').next().unwrap_or("");
    match prefix {
        "tp" | "tracepoint" => "tracepoint",
        "kprobe" | "kretprobe" | "ksyscall" | "kretsyscall" => "kprobe",
        "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => "uprobe",
        "fentry" | "fentry.s" => "fentry",
        "fexit" | "fexit.s" => "fexit",
        "xdp" => "xdp",
        "tc" | "classifier" | "tcx" => "tc",
        _ => p.prog_type.as_str(),
    }
    .to_string()
}

fn labels(pkg: &Package) -> BTreeMap<String, String> {
    let programs: BTreeMap<&str, String> = pkg
        .programs
        .iter()
        .map(|p| (p.name.as_str(), bpfman_type(p)))
        .collect();
    let maps: BTreeMap<&str, &str> = pkg
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.map_type.as_str()))
        .collect();
    BTreeMap::from([
        (
            LABEL_PROGRAMS.to_string(),
            serde_json::to_string(&programs).expect("json"),
        ),
        (
            LABEL_MAPS.to_string(),
            serde_json::to_string(&maps).expect("json"),
        ),
    ])
}

/// A reproducible tar (one member) and its gzip (no name, mtime 0).
fn layer(file_name: &str, object: &[u8]) -> (Vec<u8>, Sha256Digest) {
    let tar = crate::tarball::write(&[(file_name.to_string(), object)]);
    let diff_id = Sha256Digest::of(&tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).expect("writing to memory");
    (gz.finish().expect("writing to memory"), diff_id)
}

/// Packs the package directory `dir` as a bpfman bytecode image (see the module docs).
pub fn pack_bpfman(dir: &Path, opts: &PackOptions) -> Result<Packed, ArtifactError> {
    let pkg = Package::read_dir(dir)?;
    let mut out = Assembler::new(None, annotations(&pkg, opts));
    let file_name = format!("{}.bpf.o", pkg.name);
    let labels = labels(&pkg);
    for obj in &pkg.objects {
        let (_, bytes) = pkg.object_for(dir, obj.arch)?;
        let (gz, diff_id) = layer(&file_name, &bytes);
        let config = serde_json::json!({
            "architecture": obj.arch.oci_name(),
            "os": "linux",
            "config": { "Labels": &labels },
            "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        });
        let config = Blob::new(MEDIA_TYPE_IMAGE_CONFIG, oci::to_json(&config));
        let mut layer = Blob::new(MEDIA_TYPE_LAYER_TAR_GZIP, gz);
        layer
            .descriptor
            .annotations
            .insert(ANNOTATION_TITLE.into(), file_name.clone());
        out.add(obj.arch, config, vec![layer]);
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Manifest;
    use std::io::Read;

    #[test]
    fn labels_and_layer_are_what_bpfman_reads() {
        let dir = super::super::tests::package_dir(
            "bpfman",
            &[
                (crate::Arch::X86_64, b"x86"),
                (crate::Arch::Aarch64, b"arm"),
            ],
        );
        let packed = pack_bpfman(&dir, &PackOptions::default()).unwrap();
        assert_eq!(packed.manifests.len(), 2);
        assert_eq!(
            packed,
            pack_bpfman(&dir, &PackOptions::default()).unwrap(),
            "reproducible"
        );
        let Manifest::Image(m) = Manifest::parse(&packed.manifests[0].bytes, None).unwrap() else {
            panic!("not an image manifest")
        };
        let config = packed
            .blobs
            .iter()
            .find(|b| b.descriptor == m.config)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config.bytes).unwrap();
        let programs = config["config"]["Labels"][LABEL_PROGRAMS].as_str().unwrap();
        assert_eq!(programs, r#"{"handle_p":"tracepoint"}"#);
        assert_eq!(
            config["config"]["Labels"][LABEL_MAPS].as_str().unwrap(),
            "{}"
        );

        // bpfman takes the first member of the first layer as the object.
        let layer = packed
            .blobs
            .iter()
            .find(|b| b.descriptor.digest == m.layers[0].digest)
            .unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&layer.bytes[..]));
        let mut first = tar.entries().unwrap().next().unwrap().unwrap();
        let mut object = Vec::new();
        first.read_to_end(&mut object).unwrap();
        assert_eq!(object, b"x86");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! Compiles `proto/` with a pure-Rust protobuf compiler (no system `protoc`) and writes a file
//! descriptor set used by gRPC reflection.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs: a script binary reused by another checkout sharing the target
    // directory must compile that checkout's protos.
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let manifest_dir = manifest_dir.as_path();
    let root = manifest_dir.join("../../proto").canonicalize()?;
    let files = proto_files(&root)?;
    // tonic-prost-build prints no rerun-if-changed directives; without these every build would
    // regenerate the code and rebuild every crate that depends on it. The paths are relative to
    // this package, so that two checkouts sharing a target directory (a CI clone beside a
    // working copy) each compare their own files.
    let canonical_dir = manifest_dir.canonicalize()?;
    let relative = |path: &Path| -> PathBuf {
        match path.strip_prefix(
            canonical_dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(&canonical_dir),
        ) {
            Ok(inside_workspace) => Path::new("../..").join(inside_workspace),
            Err(_) => path.to_path_buf(),
        }
    };
    println!("cargo:rerun-if-changed={}", relative(&root).display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", relative(file).display());
    }

    let descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("crm_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}

fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

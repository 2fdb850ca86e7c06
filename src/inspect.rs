//! `morgana inspect`: what a component is made of, or what a manifest resolves to.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Result;
use morgana_compose::manifest::{DirSource, KeySource, KeySpec, StdinMode};
use morgana_compose::{AppInfo, ComponentInfo, HostInterfaces, human_size};

use crate::input::Input;
use crate::report;

/// Prints what `input` is made of; a closed standard output (`| head`) is not an error.
pub fn print(input: &Input, host: HostInterfaces) -> Result<()> {
    let mut out = String::new();
    describe(&mut out, input, host)?;
    match std::io::stdout().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn describe(out: &mut String, input: &Input, host: HostInterfaces) -> Result<()> {
    match input {
        Input::Image(path) => print_image(out, path)?,
        Input::Component(path) => {
            let (bytes, info) = crate::input::read_component(path)?;
            writeln!(out, "component  {}", path.display())?;
            writeln!(out, "size       {} ({} bytes)", human_size(info.size), info.size)?;
            print_items(out, &info, &host)?;
            if let Some(app) = AppInfo::read_from(&bytes)? {
                print_app(out, &app)?;
            }
        }
        Input::Manifest(manifest) => {
            let parts = morgana_compose::load_parts(manifest, &mut |status, step| report::step(status, &step))?;
            let composition = morgana_compose::compose(manifest, &parts, &host)?;
            writeln!(out, "manifest   {}", manifest.file.display())?;
            writeln!(out, "app        {}", manifest.name)?;
            writeln!(out, "target     {}", host.target)?;
            writeln!(
                out,
                "main       {}",
                if composition.from_wac { "(from the .wac document)" } else { &composition.main }
            )?;
            writeln!(out, "components")?;
            for part in &parts {
                let state = if composition.unused.contains(&part.name) { "  (unused, left out)" } else { "" };
                writeln!(
                    out,
                    "  {:<16} {:>10}  {}{state}",
                    part.name,
                    human_size(part.info.size),
                    morgana_compose::describe_source(&manifest.dir, &part.source)
                )?;
            }
            if composition.from_wac {
                writeln!(
                    out,
                    "wiring     from {}",
                    manifest.wac.as_ref().map(|w| w.display().to_string()).unwrap_or_default()
                )?;
            } else {
                writeln!(out, "wiring")?;
                for line in &composition.wiring {
                    let how = if line.explicit { "  (manifest)" } else { "" };
                    writeln!(out, "  {}: {} <- {}{how}", line.consumer, line.import, line.provider)?;
                }
            }
            writeln!(out, "composed   {}", human_size(composition.bytes.len() as u64))?;
            let composed = ComponentInfo::read(&composition.bytes)?;
            print_items(out, &composed, &host)?;
            if !composition.info.env.is_empty() {
                writeln!(out, "env")?;
                for (k, v) in &composition.info.env {
                    writeln!(out, "  {k}={v}")?;
                }
            }
            writeln!(out, "network    {}", if composition.info.network { "allowed" } else { "none" })?;
            print_keys(out, &composition.info.keys)?;
        }
    }
    Ok(())
}

fn print_items(out: &mut String, info: &ComponentInfo, host: &HostInterfaces) -> std::fmt::Result {
    writeln!(out, "imports ({})", info.imports.len())?;
    for import in &info.imports {
        let provided = if host.provides(&import.name) {
            format!("host ({})", host.target)
        } else {
            format!("NOT provided by the {} host", host.target)
        };
        writeln!(out, "  {:<48} {:<10} {provided}", import.name, import.kind.to_string())?;
    }
    writeln!(out, "exports ({})", info.exports.len())?;
    for export in &info.exports {
        writeln!(out, "  {:<48} {}", export.name, export.kind)?;
    }
    Ok(())
}

fn print_app(out: &mut String, app: &AppInfo) -> std::fmt::Result {
    writeln!(out, "app        {}", app.name)?;
    writeln!(out, "parts")?;
    for part in &app.parts {
        writeln!(out, "  {:<16} {:>10}  {}", part.name, human_size(part.size), part.origin)?;
    }
    if !app.env.is_empty() {
        writeln!(out, "env")?;
        for (k, v) in &app.env {
            writeln!(out, "  {k}={v}")?;
        }
    }
    writeln!(out, "network    {}", if app.network { "allowed" } else { "none" })?;
    if !app.dirs.is_empty() {
        writeln!(out, "dirs")?;
        for dir in &app.dirs {
            match &dir.source {
                DirSource::Host { path, read_only } => {
                    let mode = if *read_only { "read-only" } else { "read-write" };
                    writeln!(out, "  {:<16} {} ({mode})", dir.guest, path.display())?
                }
                DirSource::Scratch { bytes } => writeln!(out, "  {:<16} scratch, {}", dir.guest, human_size(*bytes))?,
            }
        }
    }
    if app.stdin == StdinMode::Null {
        writeln!(out, "stdin      null")?;
    }
    print_keys(out, &app.keys)
}

/// The host's TLS keys, by what is public about them: name, type, SHA-256 fingerprint of the
/// public key, validity, and the files; never the key.
fn print_keys(out: &mut String, keys: &[KeySpec]) -> std::fmt::Result {
    if keys.is_empty() {
        return Ok(());
    }
    writeln!(out, "keys (held by the host; components only sign through it)")?;
    for spec in keys {
        let KeySource::Files { certificate, key } = &spec.source else { continue };
        print_key(out, &spec.name, morgana_compose::keys::load(&spec.name, certificate, key))?;
        writeln!(out, "  {:<16} {}", "", certificate.display())?;
    }
    Ok(())
}

/// One key: its type and public fingerprint, and how long its certificate is valid.
fn print_key(out: &mut String, name: &str, key: Result<morgana_keys::Key, impl std::fmt::Display>) -> std::fmt::Result {
    match key {
        Ok(key) => {
            writeln!(out, "  {name:<16} {}  sha256:{}", key.algorithm(), key.fingerprint_hex())?;
            writeln!(out, "  {:<16} valid until {}", "", morgana_keys::UnixTime(key.not_after()))
        }
        Err(error) => writeln!(out, "  {name:<16} UNUSABLE: {error}"),
    }
}
fn print_image(out: &mut String, path: &std::path::Path) -> Result<()> {
    let file = morgana_aot::read_image(path)?;
    let payload = file.payload()?;
    let config = &payload.config;
    writeln!(out, "image      {}", path.display())?;
    writeln!(out, "size       {} ({} bytes)", human_size(file.bytes.len() as u64), file.bytes.len())?;
    writeln!(out, "kernel     {}", human_size(file.kernel_size))?;
    writeln!(
        out,
        "component  {} precompiled ({} before)",
        human_size(payload.component.len() as u64),
        human_size(config.component_size)
    )?;
    writeln!(out, "wasmtime   {}", payload.wasmtime_version)?;
    writeln!(out, "target     {}", payload.target)?;
    writeln!(out, "app        {}", config.app_name)?;
    if !config.parts.is_empty() {
        writeln!(out, "components ({}, sizes before composition)", config.parts.len())?;
        for (name, size) in &config.parts {
            writeln!(out, "  {name:<16} {:>10}", human_size(*size))?;
        }
    }
    writeln!(out, "host interfaces ({})", config.host_interfaces.len())?;
    for interface in &config.host_interfaces {
        writeln!(out, "  {interface}")?;
    }
    if !config.env.is_empty() {
        writeln!(out, "env")?;
        for (k, v) in &config.env {
            writeln!(out, "  {k}={v}")?;
        }
    }
    writeln!(out, "timeout    {}", config.timeout_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "none".into()))?;
    writeln!(out, "memory     {}", config.memory_mib.map(|m| format!("{m} MiB")).unwrap_or_else(|| "default".into()))?;
    if !payload.dirs.is_empty() {
        writeln!(out, "dirs")?;
        for dir in &payload.dirs {
            match dir.contents {
                morgana_image::DirContents::Archive(bytes) => {
                    let files = morgana_image::archive::decode(bytes)
                        .map(|entries| {
                            format!(
                                "{} entries, {} of files",
                                entries.len(),
                                human_size(morgana_image::archive::file_bytes(&entries))
                            )
                        })
                        .unwrap_or_else(|e| e.to_string());
                    writeln!(out, "  {:<16} read-only, {files}", dir.guest)?
                }
                morgana_image::DirContents::Scratch { capacity } => {
                    writeln!(out, "  {:<16} scratch, {}", dir.guest, human_size(capacity))?
                }
            }
        }
    }
    if config.stdin_null {
        writeln!(out, "stdin      null")?;
    }
    if config.serves_http {
        writeln!(out, "serves     wasi:http/incoming-handler (on `morgana run --listen`)")?;
    }
    if !payload.keys.is_empty() {
        writeln!(out, "keys (held by the kernel; components only sign through it)")?;
        for key in &payload.keys {
            print_key(out, &key.name, morgana_keys::Key::from_pem(&key.name, key.key_pem, key.certificate_pem))?;
        }
    }
    Ok(())
}

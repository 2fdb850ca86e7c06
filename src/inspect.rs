//! `morgana inspect`: what a component is made of, or what a manifest resolves to.

use anyhow::Result;
use morgana_compose::{AppInfo, ComponentInfo, HostInterfaces, human_size};

use crate::input::Input;
use crate::report;

pub fn print(input: &Input, host: HostInterfaces) -> Result<()> {
    match input {
        Input::Image(path) => print_image(path)?,
        Input::Component(path) => {
            let (bytes, info) = crate::input::read_component(path)?;
            println!("component  {}", path.display());
            println!("size       {} ({} bytes)", human_size(info.size), info.size);
            print_items(&info, &host);
            if let Some(app) = AppInfo::read_from(&bytes)? {
                print_app(&app);
            }
        }
        Input::Manifest(manifest) => {
            let parts = morgana_compose::load_parts(manifest, &mut |status, step| report::step(status, &step))?;
            let composition = morgana_compose::compose(manifest, &parts, &host)?;
            println!("manifest   {}", manifest.file.display());
            println!("app        {}", manifest.name);
            println!("target     {}", host.target);
            println!("main       {}", if composition.from_wac { "(from the .wac document)" } else { &composition.main });
            println!("components");
            for part in &parts {
                let state = if composition.unused.contains(&part.name) { "  (unused, left out)" } else { "" };
                println!(
                    "  {:<16} {:>10}  {}{state}",
                    part.name,
                    human_size(part.info.size),
                    morgana_compose::describe_source(&manifest.dir, &part.source)
                );
            }
            if composition.from_wac {
                println!("wiring     from {}", manifest.wac.as_ref().map(|w| w.display().to_string()).unwrap_or_default());
            } else {
                println!("wiring");
                for line in &composition.wiring {
                    let how = if line.explicit { "  (manifest)" } else { "" };
                    println!("  {}: {} <- {}{how}", line.consumer, line.import, line.provider);
                }
            }
            println!("composed   {}", human_size(composition.bytes.len() as u64));
            let composed = ComponentInfo::read(&composition.bytes)?;
            print_items(&composed, &host);
            if !composition.info.env.is_empty() {
                println!("env");
                for (k, v) in &composition.info.env {
                    println!("  {k}={v}");
                }
            }
            println!("network    {}", if composition.info.network { "allowed" } else { "none" });
        }
    }
    Ok(())
}

fn print_items(info: &ComponentInfo, host: &HostInterfaces) {
    println!("imports ({})", info.imports.len());
    for import in &info.imports {
        let provided = if host.provides(&import.name) {
            format!("host ({})", host.target)
        } else {
            format!("NOT provided by the {} host", host.target)
        };
        println!("  {:<48} {:<10} {provided}", import.name, import.kind.to_string());
    }
    println!("exports ({})", info.exports.len());
    for export in &info.exports {
        println!("  {:<48} {}", export.name, export.kind);
    }
}

fn print_app(app: &AppInfo) {
    println!("app        {}", app.name);
    println!("parts");
    for part in &app.parts {
        println!("  {:<16} {:>10}  {}", part.name, human_size(part.size), part.origin);
    }
    if !app.env.is_empty() {
        println!("env");
        for (k, v) in &app.env {
            println!("  {k}={v}");
        }
    }
    println!("network    {}", if app.network { "allowed" } else { "none" });
}

fn print_image(path: &std::path::Path) -> Result<()> {
    let file = morgana_aot::read_image(path)?;
    let payload = file.payload()?;
    let config = &payload.config;
    println!("image      {}", path.display());
    println!("size       {} ({} bytes)", human_size(file.bytes.len() as u64), file.bytes.len());
    println!("kernel     {}", human_size(file.kernel_size));
    println!("component  {} precompiled ({} before)", human_size(payload.component.len() as u64), human_size(config.component_size));
    println!("wasmtime   {}", payload.wasmtime_version);
    println!("target     {}", payload.target);
    println!("app        {}", config.app_name);
    println!("host interfaces ({})", config.host_interfaces.len());
    for interface in &config.host_interfaces {
        println!("  {interface}");
    }
    if !config.env.is_empty() {
        println!("env");
        for (k, v) in &config.env {
            println!("  {k}={v}");
        }
    }
    println!("timeout    {}", config.timeout_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "none".into()));
    println!("memory     {}", config.memory_mib.map(|m| format!("{m} MiB")).unwrap_or_else(|| "default".into()));
    Ok(())
}

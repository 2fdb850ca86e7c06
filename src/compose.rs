//! Getting the one component to run: composing a manifest, or checking a component file.

use std::path::PathBuf;

use anyhow::{Result, bail};
use morgana_compose::{AppInfo, HostInterfaces, human_size};

use crate::input::{self, Input};
use crate::report;

/// The composed component's bytes and what was baked into it, written to `output` (or the
/// manifest's default place) when composing.
pub fn component(input: &Input, host: HostInterfaces, output: Option<PathBuf>) -> Result<(Vec<u8>, Option<AppInfo>)> {
    match input {
        Input::Manifest(manifest) => {
            let parts = morgana_compose::load_parts(manifest, &mut |status, step| report::step(status, &step))?;
            report::step("Composing", &format!("`{}` for the {} target", manifest.name, host.target));
            let composition = morgana_compose::compose(manifest, &parts, &host)?;
            for unused in &composition.unused {
                report::warning(&format!("component `{unused}` is not used by the application; it is left out"));
            }
            let path = output.unwrap_or_else(|| morgana_compose::output_path(manifest));
            morgana_compose::write_atomically(&path, &composition.bytes)?;
            report::step("Wrote", &format!("{} ({})", path.display(), human_size(composition.bytes.len() as u64)));
            Ok((composition.bytes, Some(composition.info)))
        }
        Input::Component(path) => {
            let (bytes, info) = input::read_component(path)?;
            if let Some(import) = info.imports.iter().find(|i| !host.provides(&i.name)) {
                bail!(
                    "{} imports `{}`, which the `{}` target does not provide: {}",
                    path.display(),
                    import.name,
                    host.target,
                    morgana_compose::wiring::unsatisfied_hint(&[], &import.name, &host)
                );
            }
            if let Some(output) = output {
                morgana_compose::write_atomically(&output, &bytes)?;
            }
            let app = AppInfo::read_from(&bytes)?;
            Ok((bytes, app))
        }
        Input::Image(path) => bail!(
            "{} is an image, already built for the qemu target; run it with `morgana run --target qemu`",
            path.display()
        ),
    }
}

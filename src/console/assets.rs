//! The console's files, compiled into the binary (nothing is read or downloaded at run time).

use std::collections::HashMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One file of the console.
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            bytes: include_bytes!(concat!("assets/", $path)),
        }
    };
}

/// Every file, by its path under `/console/`.
static ASSETS: &[Asset] = &[
    asset!("index.html"),
    asset!("style.css"),
    asset!("icon.svg"),
    asset!("js/app.js"),
    asset!("js/api.js"),
    asset!("js/session.js"),
    asset!("js/dom.js"),
    asset!("js/form.js"),
    asset!("js/chart.js"),
    asset!("js/format.js"),
    asset!("js/pages/signin.js"),
    asset!("js/pages/connections.js"),
    asset!("js/pages/connection_form.js"),
    asset!("js/pages/explore.js"),
    asset!("js/pages/wizard.js"),
    asset!("js/pages/wizard_steps.js"),
    asset!("js/pages/wizard_create.js"),
    asset!("js/pages/flows.js"),
    asset!("js/pages/flow.js"),
    asset!("js/pages/flow_schema.js"),
    asset!("js/pages/flow_edit.js"),
    asset!("js/pages/flow_alerts.js"),
    asset!("js/pages/datasets.js"),
    asset!("js/pages/dataset.js"),
    asset!("js/pages/alerts.js"),
];

/// The file at `path`, if the console has one.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

impl Asset {
    /// The media type, from the file's extension.
    pub fn content_type(&self) -> &'static str {
        match self.path.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("svg") => "image/svg+xml",
            _ => "application/octet-stream",
        }
    }

    /// A strong ETag: the first 128 bits of the file's SHA-256, quoted.
    pub fn etag(&self) -> &'static str {
        static TAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
        let tags = TAGS.get_or_init(|| {
            ASSETS
                .iter()
                .map(|a| (a.path, format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..16]))))
                .collect()
        });
        tags[self.path].as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(asset: &Asset) -> &str {
        std::str::from_utf8(asset.bytes).expect("console files are UTF-8")
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(find("index.html").unwrap().content_type(), "text/html; charset=utf-8");
        assert_eq!(find("style.css").unwrap().content_type(), "text/css; charset=utf-8");
        assert_eq!(
            find("js/app.js").unwrap().content_type(),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(find("icon.svg").unwrap().content_type(), "image/svg+xml");
        assert!(find("../Cargo.toml").is_none());
    }

    /// The CSP forbids inline scripts and styles; the files must not need them, and no
    /// script may write HTML from strings (every value reaches the page as text).
    #[test]
    fn no_inline_script_style_or_html_strings() {
        for asset in ASSETS {
            let body = text(asset);
            for banned in [
                "style=\"",
                "onclick",
                "onload=",
                "javascript:",
                "innerHTML",
                "outerHTML =",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!body.contains(banned), "{} contains {banned:?}", asset.path);
            }
        }
        let page = text(find("index.html").unwrap());
        assert_eq!(
            page.matches("<script").count(),
            page.matches("<script type=\"module\" src=").count()
        );
    }

    /// Every module a script imports is served.
    #[test]
    fn every_import_is_an_asset() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let dir = asset.path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in text(asset).lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit_once("from '").expect("import ... from '...'").1;
                let target = target.trim_end_matches(['\'', ';']);
                let resolved = resolve(dir, target);
                assert!(
                    find(&resolved).is_some(),
                    "{} imports {target} ({resolved}), which is not served",
                    asset.path
                );
            }
        }
    }

    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }
}

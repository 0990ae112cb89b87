//! Reading secrets the control plane itself needs (admin credentials today): a [`Vault`]
//! asks its [`SecretBackend`]s, one per kind of [`SecretSource`] (environment variables,
//! files), and hands back a [`Secret`] that cannot be printed or serialized.
//!
//! Provider credentials are not read here: Envoy reads them itself, and the control plane
//! only checks that they exist (through the same vault, see [`crate::credentials`]).

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::SecretSource;
use crate::credentials::Environment;

/// Larger files are not secrets but a mistake (a key bundle, a log).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A secret value. Its `Debug` is redacted and it has neither `Display` nor `Serialize`,
/// so it cannot reach a log line or an API answer by accident.
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that must compare or send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("environment variable {0} is not set")]
    Unset(String),
    #[error("environment variable {0} is not UTF-8")]
    NotUtf8(String),
    #[error("{0} is empty")]
    Empty(String),
    #[error("file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("no backend reads {0}")]
    NoBackend(String),
}

/// One kind of secret storage.
pub trait SecretBackend: Send + Sync {
    /// The secret `source` names, or `None` when `source` is not of this backend's kind.
    fn read(&self, source: &SecretSource) -> Option<Result<Secret, VaultError>>;
}

/// Environment variables, through a lookup function (the process environment in
/// production, a map in tests).
pub struct EnvVars {
    lookup: Box<Lookup>,
}

type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

impl EnvVars {
    pub fn process() -> Self {
        EnvVars::with(|name| std::env::var_os(name))
    }

    pub fn with(lookup: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static) -> Self {
        EnvVars {
            lookup: Box::new(lookup),
        }
    }
}

impl SecretBackend for EnvVars {
    fn read(&self, source: &SecretSource) -> Option<Result<Secret, VaultError>> {
        let SecretSource::Env(name) = source else {
            return None;
        };
        let value = (self.lookup)(name).ok_or_else(|| VaultError::Unset(name.clone()));
        Some(value.and_then(|value| {
            let value = value
                .into_string()
                .map_err(|_| VaultError::NotUtf8(name.clone()))?;
            non_empty(value, || format!("environment variable {name}"))
        }))
    }
}

/// Files holding one secret each. Rules: a regular file of at most 64 KiB, UTF-8, not
/// writable by group or others (anyone could swap the secret); one trailing line ending
/// is removed (editors add one).
pub struct Files;

impl SecretBackend for Files {
    fn read(&self, source: &SecretSource) -> Option<Result<Secret, VaultError>> {
        let SecretSource::File(path) = source else {
            return None;
        };
        Some(read_file(path))
    }
}

fn read_file(path: &Path) -> Result<Secret, VaultError> {
    let fail = |reason: String| VaultError::File {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let metadata = file.metadata().map_err(|e| fail(e.to_string()))?;
    if !metadata.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if metadata.permissions().mode() & 0o022 != 0 {
        return Err(fail("writable by other users; make it 0600 or 0400".into()));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(fail(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| fail(e.to_string()))?;
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    non_empty(trimmed.to_string(), || format!("file {}", path.display()))
}

fn non_empty(value: String, name: impl FnOnce() -> String) -> Result<Secret, VaultError> {
    if value.is_empty() {
        return Err(VaultError::Empty(name()));
    }
    Ok(Secret(value))
}

/// Secrets from whichever backend handles the source.
pub struct Vault {
    backends: Vec<Box<dyn SecretBackend>>,
}

impl Vault {
    /// The process environment and the filesystem.
    pub fn system() -> Self {
        Vault::new(vec![Box::new(EnvVars::process()), Box::new(Files)])
    }

    pub fn new(backends: Vec<Box<dyn SecretBackend>>) -> Self {
        Vault { backends }
    }

    pub fn read(&self, source: &SecretSource) -> Result<Secret, VaultError> {
        self.backends
            .iter()
            .find_map(|backend| backend.read(source))
            .unwrap_or_else(|| Err(VaultError::NoBackend(source.absence())))
    }
}

impl Environment for Vault {
    fn has_var(&self, name: &str) -> bool {
        self.read(&SecretSource::Env(name.to_string())).is_ok()
    }

    fn has_file(&self, path: &Path) -> bool {
        self.read(&SecretSource::File(path.to_path_buf())).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs::Permissions;

    use super::*;

    fn file(name: &str, content: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tollgate-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
        path
    }

    fn vault() -> Vault {
        let vars = HashMap::from([("SET", "s3cret"), ("BLANK", "")]);
        let env = EnvVars::with(move |name| vars.get(name).map(OsString::from));
        Vault::new(vec![Box::new(env), Box::new(Files)])
    }

    fn read_file_source(path: PathBuf) -> Result<Secret, VaultError> {
        vault().read(&SecretSource::File(path))
    }

    #[test]
    fn environment_variables_must_be_set_and_non_empty() {
        let env = |name: &str| vault().read(&SecretSource::Env(name.into()));
        assert_eq!(env("SET").unwrap().expose(), "s3cret");
        assert!(matches!(env("BLANK"), Err(VaultError::Empty(_))));
        assert!(matches!(env("UNSET"), Err(VaultError::Unset(_))));
    }

    #[test]
    fn files_lose_one_line_ending_and_must_not_be_writable_by_others() {
        let secret = read_file_source(file("ok", "s3cret\r\n", 0o600)).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        let kept = read_file_source(file("two", "s3cret\n\n", 0o444)).unwrap();
        assert_eq!(kept.expose(), "s3cret\n");
        assert!(matches!(
            read_file_source(file("empty", "\n", 0o600)),
            Err(VaultError::Empty(_))
        ));
        let open = read_file_source(file("open", "s3cret", 0o666)).unwrap_err();
        assert!(
            open.to_string().contains("writable by other users"),
            "{open}"
        );
        let dir = std::env::temp_dir();
        assert!(read_file_source(dir).is_err());
        assert!(read_file_source("/nonexistent/tollgate".into()).is_err());
    }

    #[test]
    fn a_secret_never_shows_in_debug_output_or_errors() {
        let secret = vault().read(&SecretSource::Env("SET".into())).unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let path = file("big", &"x".repeat(70_000), 0o600);
        let error = read_file_source(path).unwrap_err().to_string();
        assert!(!error.contains("xxx"), "{error}");
    }

    #[test]
    fn presence_is_a_successful_read() {
        let vault = vault();
        assert!(vault.has_var("SET"));
        assert!(!vault.has_var("BLANK"));
        assert!(vault.has_file(&file("present", "k", 0o400)));
        assert!(!vault.has_file(&file("blank", "", 0o400)));
    }
}

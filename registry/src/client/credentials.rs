//! Where registry credentials come from, in order: `CORESHIP_REGISTRY_TOKEN`,
//! `CORESHIP_REGISTRY_USER` + `CORESHIP_REGISTRY_PASSWORD`, then docker's
//! (`$DOCKER_CONFIG/config.json`, `~/.docker/config.json`) and containers'
//! (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`) auth files, by registry host.
//! Credential helpers (`credsStore`, `credHelpers`) are not run.
//!
//! The environment's credentials are for the registries `CORESHIP_REGISTRY_HOST` names
//! (`host[:port]` as references write it, comma-separated) or, when it is unset, for
//! registries on this machine only: a token exported for one registry must not go to every
//! registry a reference names.

use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What to authenticate with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secrets {
    /// User name and password: Basic auth, or Basic auth at the token endpoint.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// A token sent as `Authorization: Bearer` directly, and as the password at a token
    /// endpoint (coreship-registry push tokens, registry PATs).
    Token(Secret),
    /// A docker `identitytoken`: an OAuth2 refresh token for the token endpoint.
    IdentityToken(Secret),
}

/// Credentials and where they came from (shown in errors; the secret never is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The secret.
    pub secrets: Secrets,
    /// `env CORESHIP_REGISTRY_TOKEN`, a file path, or `options`.
    pub origin: String,
}

impl Credentials {
    /// User name and password for Basic auth (at the registry or at a token endpoint).
    pub(crate) fn basic(&self) -> Option<(String, String)> {
        match &self.secrets {
            Secrets::Basic { username, password } => Some((username.clone(), password.0.clone())),
            // Token endpoints and coreship-registry take any user name with a token as password.
            Secrets::Token(t) => Some(("coreship".to_string(), t.0.clone())),
            Secrets::IdentityToken(_) => None,
        }
    }
}

/// Credentials set in the environment but not used for a registry, because they are for
/// other hosts: said when that registry then refuses the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    /// `CORESHIP_REGISTRY_TOKEN` or `CORESHIP_REGISTRY_USER/CORESHIP_REGISTRY_PASSWORD`.
    pub variable: &'static str,
    /// The hosts they are for, as `CORESHIP_REGISTRY_HOST` is set, or `None` when it is unset
    /// (registries on this machine only).
    pub hosts: Option<String>,
    /// The registry they were withheld from.
    pub registry: String,
}

impl fmt::Display for Withheld {
    /// `VAR is set but applies only to …: set CORESHIP_REGISTRY_HOST=HOST if it is for this
    /// registry`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts = self.hosts.as_deref().unwrap_or(
            "registries on this machine (localhost, 127.0.0.0/8, ::1) while \
             CORESHIP_REGISTRY_HOST is unset",
        );
        write!(
            f,
            "{} is set but applies only to {hosts}: set CORESHIP_REGISTRY_HOST={} if it is for \
             this registry",
            self.variable, self.registry
        )
    }
}

/// Looks up credentials for `host` (`ghcr.io`, `localhost:5000`) in the environment and the
/// auth files, in the documented order; the environment's only where they apply (see the
/// module docs).
pub fn lookup(host: &str) -> Option<Credentials> {
    lookup_with(host, &process_env)
}

/// The environment's credentials that are set but do not apply to `host`, if any: what to
/// tell when `host` then asks for credentials.
pub fn withheld(host: &str) -> Option<Withheld> {
    withheld_with(host, &process_env)
}

/// A variable of this process's environment; set but empty counts as unset.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether the environment's credentials are for `host`: it is listed in
/// `CORESHIP_REGISTRY_HOST` (any case), or that is unset and `host` is this machine. `Err`
/// holds the list when it does not name `host`.
fn env_applies(host: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Option<String>> {
    let Some(list) = env("CORESHIP_REGISTRY_HOST") else {
        return if crate::reference::is_loopback_host(host) {
            Ok(())
        } else {
            Err(None)
        };
    };
    if list.split(',').any(|h| h.trim().eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        Err(Some(list.trim().to_string()))
    }
}

/// The environment's credentials, whatever host they are for: the variable to name and the
/// credentials.
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<(&'static str, Credentials)> {
    if let Some(t) = env("CORESHIP_REGISTRY_TOKEN") {
        return Some((
            "CORESHIP_REGISTRY_TOKEN",
            Credentials {
                secrets: Secrets::Token(Secret(t)),
                origin: "env CORESHIP_REGISTRY_TOKEN".into(),
            },
        ));
    }
    let (username, password) = (
        env("CORESHIP_REGISTRY_USER")?,
        env("CORESHIP_REGISTRY_PASSWORD")?,
    );
    Some((
        "CORESHIP_REGISTRY_USER/CORESHIP_REGISTRY_PASSWORD",
        Credentials {
            secrets: Secrets::Basic {
                username,
                password: Secret(password),
            },
            origin: "env CORESHIP_REGISTRY_USER/CORESHIP_REGISTRY_PASSWORD".into(),
        },
    ))
}

/// [`lookup`] with an injectable environment.
pub(crate) fn lookup_with(host: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
    if let Some((_, creds)) = from_env(env) {
        if env_applies(host, env).is_ok() {
            return Some(creds);
        }
    }
    auth_files(env).into_iter().find_map(|file| {
        let bytes = std::fs::read(&file).ok()?;
        from_auth_file(&bytes, host).map(|secrets| Credentials {
            secrets,
            origin: file.display().to_string(),
        })
    })
}

/// [`withheld`] with an injectable environment.
pub(crate) fn withheld_with(host: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Withheld> {
    let (variable, _) = from_env(env)?;
    let hosts = env_applies(host, env).err()?;
    Some(Withheld {
        variable,
        hosts,
        registry: host.to_string(),
    })
}

fn auth_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match (env("DOCKER_CONFIG"), env("HOME")) {
        (Some(dir), _) => files.push(Path::new(&dir).join("config.json")),
        (None, Some(home)) => files.push(Path::new(&home).join(".docker/config.json")),
        _ => {}
    }
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(f));
    }
    if let Some(dir) = env("XDG_RUNTIME_DIR") {
        files.push(Path::new(&dir).join("containers/auth.json"));
    }
    files
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// `https://host/v1/`, `http://host`, `host/path` → `host`.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// The credentials a docker `config.json` or containers `auth.json` holds for `host`.
pub(crate) fn from_auth_file(bytes: &[u8], host: &str) -> Option<Secrets> {
    let file: AuthFile = serde_json::from_slice(bytes).ok()?;
    let entry = file
        .auths
        .iter()
        .find(|(k, _)| key_host(k) == host)
        .map(|(_, v)| v)?;
    if let Some(t) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Some(Secrets::IdentityToken(Secret(t.clone())));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_ref()?.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some(Secrets::Basic {
        username: user.to_string(),
        password: Secret(pass.to_string()),
    })
}

/// `Basic base64(user:pass)`.
pub(crate) fn basic_header(user: &str, pass: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn docker_and_containers_auth_files_are_read_by_host() {
        // base64("alice:s3cr:et")
        let file = br#"{"auths":{"https://ghcr.io/v1/":{"auth":"YWxpY2U6czNjcjpldA=="},
            "localhost:5000":{"auth":"","identitytoken":"refresh"}},"credsStore":"desktop"}"#;
        assert_eq!(
            from_auth_file(file, "ghcr.io"),
            Some(Secrets::Basic {
                username: "alice".into(),
                password: Secret("s3cr:et".into())
            })
        );
        assert_eq!(
            from_auth_file(file, "localhost:5000"),
            Some(Secrets::IdentityToken(Secret("refresh".into())))
        );
        assert_eq!(from_auth_file(file, "quay.io"), None);
        assert_eq!(from_auth_file(b"not json", "ghcr.io"), None);
    }

    #[test]
    fn the_environment_comes_before_files_and_the_token_before_user_and_password() {
        let dir = std::env::temp_dir().join(format!("coreship-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            br#"{"auths":{"r.example":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let mut vars: HashMap<&'static str, String> = HashMap::new();
        vars.insert("DOCKER_CONFIG", dir.display().to_string());
        let get = |vars: &HashMap<&'static str, String>| {
            let vars = vars.clone();
            move |k: &str| vars.get(k).cloned()
        };
        let creds =
            |host: &str, vars: &HashMap<&'static str, String>| lookup_with(host, &get(vars));
        let c = creds("r.example", &vars).unwrap();
        assert_eq!(c.origin, dir.join("config.json").display().to_string());
        assert_eq!(c.basic(), Some(("u".into(), "p".into())));
        assert!(creds("other.example", &vars).is_none());
        vars.insert("CORESHIP_REGISTRY_HOST", "r.example".into());
        vars.insert("CORESHIP_REGISTRY_USER", "bob".into());
        vars.insert("CORESHIP_REGISTRY_PASSWORD", "pw".into());
        let c = creds("r.example", &vars).unwrap();
        assert_eq!(c.basic(), Some(("bob".into(), "pw".into())));
        vars.insert("CORESHIP_REGISTRY_TOKEN", "tok".into());
        let c = creds("r.example", &vars).unwrap();
        assert_eq!(c.secrets, Secrets::Token(Secret("tok".into())));
        assert_eq!(c.origin, "env CORESHIP_REGISTRY_TOKEN");
        assert!(!format!("{c:?}").contains("tok\""), "{c:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn environment_credentials_go_only_to_the_hosts_named_or_else_to_this_machine() {
        fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let token = [("CORESHIP_REGISTRY_TOKEN", "tok")];
        for host in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            let found = lookup_with(host, &env(&token)).unwrap();
            assert_eq!(found.origin, "env CORESHIP_REGISTRY_TOKEN");
            assert_eq!(withheld_with(host, &env(&token)), None);
        }
        assert_eq!(lookup_with("ghcr.io", &env(&token)), None);
        assert_eq!(
            withheld_with("ghcr.io", &env(&token)).unwrap().to_string(),
            "CORESHIP_REGISTRY_TOKEN is set but applies only to registries on this machine \
             (localhost, 127.0.0.0/8, ::1) while CORESHIP_REGISTRY_HOST is unset: set \
             CORESHIP_REGISTRY_HOST=ghcr.io if it is for this registry"
        );
        let named = [
            ("CORESHIP_REGISTRY_USER", "u"),
            ("CORESHIP_REGISTRY_PASSWORD", "p"),
            ("CORESHIP_REGISTRY_HOST", " GHCR.io ,registry.lan:5000,"),
        ];
        for host in ["ghcr.io", "registry.lan:5000"] {
            let found = lookup_with(host, &env(&named)).unwrap();
            assert_eq!(found.basic(), Some(("u".into(), "p".into())));
            assert_eq!(withheld_with(host, &env(&named)), None);
        }
        // Exactly as written: another port, another host, or this machine are not named.
        for host in [
            "registry.lan",
            "registry.lan:5001",
            "ghcr.io.evil",
            "localhost:5000",
        ] {
            assert_eq!(lookup_with(host, &env(&named)), None, "{host}");
            let withheld = withheld_with(host, &env(&named)).unwrap();
            assert_eq!(
                withheld.variable,
                "CORESHIP_REGISTRY_USER/CORESHIP_REGISTRY_PASSWORD"
            );
            assert_eq!(
                withheld.hosts.as_deref(),
                Some("GHCR.io ,registry.lan:5000,")
            );
        }
    }

    #[test]
    fn basic_headers_encode_user_and_password() {
        assert_eq!(basic_header("any", "t0k"), "Basic YW55OnQwaw==");
    }
}

//! [`Codecs`]: the codecs of a client, by name.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{Codec, NoopCodec, builtin, decode_typed, encode_typed, missing_feature};
use super::config::{BUILTIN_CODECS, compiled, resolve_name};
use super::error::PayloadError;
use super::value::Value;
#[cfg(doc)]
use crate::Client;
use crate::config::{Config, ConfigError};

struct Registry {
    default: String,
    /// Shared until written to: every client of a process built without
    /// `codec_params` shares one map of the built-in codecs.
    codecs: Arc<HashMap<String, Arc<dyn Codec>>>,
}

/// The built-in codecs without parameters, built once per process.
fn builtins() -> Arc<HashMap<String, Arc<dyn Codec>>> {
    static BUILTINS: std::sync::OnceLock<Arc<HashMap<String, Arc<dyn Codec>>>> =
        std::sync::OnceLock::new();
    BUILTINS
        .get_or_init(|| {
            Arc::new(
                BUILTIN_CODECS
                    .iter()
                    .filter_map(|&name| builtin(name, None).ok().map(|c| (name.to_owned(), c)))
                    .collect(),
            )
        })
        .clone()
}

/// Every built-in codec with the parameters `codec_params` gives for its
/// name, and every alias with its own (see [`Codecs::from_config`]).
fn with_params(config: &Config) -> Result<HashMap<String, Arc<dyn Codec>>, ConfigError> {
    let mut codecs = HashMap::new();
    let build = |name: &str| -> Result<Option<Arc<dyn Codec>>, ConfigError> {
        let wrap = |source| ConfigError::Codec {
            key: format!("codec_params.{name}"),
            source,
        };
        match resolve_name(config, name) {
            Some((base, params)) => builtin(base, params).map(Some).map_err(wrap),
            None => match config.codec_params.get(name).and_then(|p| p.get("name")) {
                // An alias of something that is not a built-in codec.
                Some(target) => Err(ConfigError::InvalidCodecAlias {
                    alias: name.to_owned(),
                    target: target.to_string(),
                }),
                // Parameters of a codec the application registers.
                None => Ok(None),
            },
        }
    };
    for name in BUILTIN_CODECS
        .iter()
        .copied()
        .filter(|name| missing_feature(name).is_none())
        .chain(config.codec_params.keys().map(String::as_str))
    {
        if let Some(codec) = build(name)? {
            codecs.insert(name.to_owned(), codec);
        }
    }
    Ok(codecs)
}

/// The codecs of a client, by name, and its default codec.
///
/// Built from a [`Config`] ([`Codecs::from_config`]): the built-in codecs
/// with their `codec_params`, the aliases, `config.codec` as the default.
/// Codecs of your own are added with [`Codecs::register`], which takes
/// `&self`: the client's registry ([`Client::codecs`]) takes them at any
/// time. Cloning copies the registry (the codecs themselves are shared).
pub struct Codecs {
    inner: RwLock<Registry>,
}

impl Codecs {
    /// The built-in codecs without parameters; the default codec is `noop`.
    pub fn new() -> Self {
        Self {
            inner: RwLock::new(Registry {
                default: NoopCodec::NAME.to_owned(),
                codecs: builtins(),
            }),
        }
    }

    /// The codecs of a configuration: every built-in codec with the
    /// parameters `codec_params` gives for its name, every alias (a
    /// `codec_params` entry with a `name` key) with its own parameters, and
    /// `config.codec` as the default. Other `codec_params` entries are left
    /// to codecs you register (read them from [`Client::config`]).
    ///
    /// Fails on an unknown default codec, an alias of an unknown codec, and
    /// unknown or ill-typed parameters ([`ConfigError::Codec`], keyed by
    /// `codec_params.<name>`).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        // Without parameters the built-in codecs are the process's shared ones.
        let codecs = if config.codec_params.is_empty() {
            builtins()
        } else {
            Arc::new(with_params(config)?)
        };
        if !codecs.contains_key(&config.codec) {
            if let Some((base, _)) = resolve_name(config, &config.codec) {
                compiled(base, || format!("codec = {:?}", config.codec))?;
            }
            return Err(ConfigError::UnknownCodec(config.codec.clone()));
        }
        Ok(Self {
            inner: RwLock::new(Registry {
                default: config.codec.clone(),
                codecs,
            }),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A poisoned lock only means a panic elsewhere while holding it: the
        // map itself is always consistent.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a codec under `name`, replacing (and returning) the codec of
    /// that name, a built-in one or an alias included.
    pub fn register(
        &self,
        name: impl Into<String>,
        codec: Arc<dyn Codec>,
    ) -> Option<Arc<dyn Codec>> {
        Arc::make_mut(&mut self.write().codecs).insert(name.into(), codec)
    }

    /// The codec named `name`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Codec>, PayloadError> {
        self.read()
            .codecs
            .get(name)
            .cloned()
            .ok_or_else(|| unknown(name))
    }

    /// The codec named `name`, or the default codec for `None`.
    pub fn resolve(&self, name: Option<&str>) -> Result<Arc<dyn Codec>, PayloadError> {
        let inner = self.read();
        let name = name.unwrap_or(&inner.default);
        inner.codecs.get(name).cloned().ok_or_else(|| unknown(name))
    }

    /// The default codec.
    pub fn default_codec(&self) -> Arc<dyn Codec> {
        let inner = self.read();
        match inner.codecs.get(&inner.default) {
            Some(codec) => codec.clone(),
            // The default always names a codec (see `set_default`).
            None => Arc::new(NoopCodec),
        }
    }

    /// The name of the default codec.
    pub fn default_name(&self) -> String {
        self.read().default.clone()
    }

    /// Makes the codec named `name` the default.
    pub fn set_default(&self, name: &str) -> Result<(), PayloadError> {
        let mut inner = self.write();
        if !inner.codecs.contains_key(name) {
            return Err(unknown(name));
        }
        inner.default = name.to_owned();
        Ok(())
    }

    /// The names of all codecs, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.read().codecs.keys().cloned().collect();
        names.sort();
        names
    }

    /// Encodes `value` with the codec named `codec` (the default for `None`).
    pub fn encode(&self, codec: Option<&str>, value: &Value) -> Result<Bytes, PayloadError> {
        self.resolve(codec)?.encode(value)
    }

    /// Decodes `payload` with the codec named `codec` (the default for `None`).
    pub fn decode(&self, codec: Option<&str>, payload: &Bytes) -> Result<Value, PayloadError> {
        self.resolve(codec)?.decode(payload)
    }

    /// Encodes any `T: Serialize` with the codec named `codec` (the default
    /// for `None`), through structured data ([`Codec::encode_data`]).
    pub fn encode_typed<T: Serialize + ?Sized>(
        &self,
        codec: Option<&str>,
        value: &T,
    ) -> Result<Bytes, PayloadError> {
        encode_typed(&*self.resolve(codec)?, value)
    }

    /// Decodes `payload` into a `T: Deserialize` with the codec named
    /// `codec` (the default for `None`), through structured data
    /// ([`Codec::decode_data`]).
    pub fn decode_typed<T: DeserializeOwned>(
        &self,
        codec: Option<&str>,
        payload: &Bytes,
    ) -> Result<T, PayloadError> {
        decode_typed(&*self.resolve(codec)?, payload)
    }
}

impl Default for Codecs {
    /// As [`Codecs::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Codecs {
    fn clone(&self) -> Self {
        let inner = self.read();
        Self {
            inner: RwLock::new(Registry {
                default: inner.default.clone(),
                codecs: inner.codecs.clone(),
            }),
        }
    }
}

impl fmt::Debug for Codecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codecs")
            .field("default", &self.default_name())
            .field("names", &self.names())
            .finish()
    }
}

/// The error for a name the registry does not hold: a built-in codec this
/// build leaves out, or an unknown one.
fn unknown(name: &str) -> PayloadError {
    match missing_feature(name) {
        Some(feature) => PayloadError::NeedsFeature {
            codec: name.to_owned(),
            feature,
        },
        None => PayloadError::UnknownCodec(name.to_owned()),
    }
}

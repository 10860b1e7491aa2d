//! The configuration's side of the codecs: the built-in names, what a
//! name stands for, the checks of `codec`, `codec_params` and `will.codec`,
//! and the will encoded with its codec.

use bytes::Bytes;

use super::codec::{builtin, missing_feature};
use super::value::Value;
use crate::config::{Config, ConfigError, TextOrBytes, WillConfig};
use crate::payload_keys::{CodecParam, CodecParams};

/// Largest will payload: Binary Data has a two-byte length.
const MAX_WILL_LEN: usize = u16::MAX as usize;

/// The codecs built into the client, by name (distmqtt's set). A name in
/// [`Config::codec`] is one of these or an alias declared in
/// [`Config::codec_params`] with a `name` key. `msgpack` and
/// `msgpack+json` are built only with the `msgpack` feature; without it
/// they stay known names, refused with an error naming the feature.
pub const BUILTIN_CODECS: &[&str] = &["noop", "utf8", "json", "msgpack", "msgpack+json", "bool"];

/// The built-in codec a codec name stands for, and the parameters
/// configured for that name: a built-in name stands for itself, an
/// alias (a `codec_params` entry with a `name` key) for the codec it
/// names. `None` for an unknown name.
pub fn resolve_name<'c>(
    config: &'c Config,
    name: &str,
) -> Option<(&'static str, Option<&'c CodecParams>)> {
    let params = config.codec_params.get(name);
    let base = match params.and_then(|p| p.get("name")) {
        Some(CodecParam::String(target)) => target.as_str(),
        Some(_) => return None,
        None => name,
    };
    let builtin = BUILTIN_CODECS.iter().copied().find(|b| *b == base)?;
    if BUILTIN_CODECS.contains(&name) && base != name {
        // A built-in name cannot be redefined.
        return None;
    }
    Some((builtin, params))
}

/// The codec rules of a configuration: every alias (a `codec_params`
/// entry with a `name` key) names a built-in codec and does not redefine a
/// built-in name, `codec` names a built-in codec or an alias, and the
/// built-in codecs used (by `codec`, `codec_params` or `will.codec`) are
/// compiled in (`msgpack` and `msgpack+json` need the `msgpack` feature).
pub(crate) fn check_config(config: &Config) -> Result<(), ConfigError> {
    for (alias, params) in &config.codec_params {
        if let Some(target) = params.get("name") {
            let ok = match target {
                CodecParam::String(t) => {
                    BUILTIN_CODECS.contains(&t.as_str())
                        && (!BUILTIN_CODECS.contains(&alias.as_str()) || t == alias)
                }
                _ => false,
            };
            if !ok {
                return Err(ConfigError::InvalidCodecAlias {
                    alias: alias.clone(),
                    target: target.to_string(),
                });
            }
        }
        if let Some((base, _)) = resolve_name(config, alias) {
            compiled(base, || format!("codec_params.{alias}"))?;
        }
    }
    match resolve_name(config, &config.codec) {
        Some((base, _)) => compiled(base, || format!("codec = {:?}", config.codec))?,
        None => return Err(ConfigError::UnknownCodec(config.codec.clone())),
    }
    if let Some(name) = config.will.as_ref().and_then(|w| w.codec.as_deref())
        && let Some((base, _)) = resolve_name(config, name)
    {
        compiled(base, || format!("will.codec = {name:?}"))?;
    }
    Ok(())
}

/// The will's payload when it has a `codec` or a `value` (see
/// [`WillConfig::payload`]).
pub(crate) fn will_payload(will: &WillConfig, config: &Config) -> Result<Bytes, ConfigError> {
    let value = match &will.value {
        Some(_) if !will.message.as_bytes().is_empty() => {
            return Err(ConfigError::WillMessageAndValue);
        }
        Some(v) => Value::from_data(v.clone()),
        None => match &will.message {
            TextOrBytes::Text(t) => Value::Text(t.clone()),
            TextOrBytes::Bytes(b) => Value::Bytes(b.clone().into()),
        },
    };
    let name = will.codec.as_deref().unwrap_or(&config.codec);
    let wrap = |source| ConfigError::Codec {
        key: "will".to_owned(),
        source,
    };
    let codec = match resolve_name(config, name) {
        Some((base, params)) => builtin(base, params).map_err(wrap)?,
        None => return Err(ConfigError::UnknownCodec(name.to_owned())),
    };
    let payload = codec.encode(&value).map_err(wrap)?;
    if payload.len() > MAX_WILL_LEN {
        return Err(ConfigError::WillMessageTooLong(payload.len()));
    }
    Ok(payload)
}

/// `Ok` when the built-in codec `base` is compiled in; else the error
/// naming the configuration key (`key()`) and the feature it needs.
pub(super) fn compiled(base: &str, key: impl FnOnce() -> String) -> Result<(), ConfigError> {
    match missing_feature(base) {
        Some(feature) => Err(ConfigError::NeedsFeature {
            key: key(),
            feature,
        }),
        None => Ok(()),
    }
}

//! Payload codecs: distmqtt's `noop`, `utf8`, `json`, `msgpack`,
//! `msgpack+json` and `bool`, aliases declared in `codec_params`, and codecs
//! of your own. ("Codec" here is always a payload codec: the MQTT packets
//! themselves are encoded by `sansmqtt-proto`.)
//!
//! A [`Codec`] turns a [`Value`] into a payload and back. The client holds a
//! registry, [`Codecs`], built from its [`Config`]: every built-in codec with
//! the parameters `codec_params` gives for its name, every alias (a
//! `codec_params` entry with a `name` key), and the default codec
//! (`config.codec`). A codec named by a string always honours
//! `codec_params` (distmqtt bug #13 ignored them). Every failure is a
//! [`PayloadError`]; the client's calls return it as
//! [`ClientError::Payload`].
//!
//! ```
//! use sansmqtt::payload::{Codecs, Decoded, Value};
//! use sansmqtt::{Client, ClientError, Config, PublishOptions, QoS};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The seed document's example: `yesno` is the bool codec with other words.
//! let config: Config = toml::from_str(r#"
//!     codec = "utf8"
//!     [codec_params]
//!     yesno = { on = "yes", off = "no", name = "bool" }
//! "#)?;
//!
//! // The registry on its own (the client holds one: `client.codecs()`).
//! let codecs = Codecs::from_config(&config)?;
//! assert_eq!(codecs.encode(Some("yesno"), &Value::Bool(true))?, "yes");
//! assert_eq!(codecs.decode(Some("yesno"), &"no".into())?, Value::Bool(false));
//! // The default codec is utf8.
//! assert_eq!(codecs.decode(None, &"héllo".into())?, Value::from("héllo"));
//! // Any serde type goes through a codec too.
//! let payload = codecs.encode_typed(Some("json"), &[1, 2, 3])?;
//! assert_eq!(payload, "[1,2,3]");
//! assert_eq!(codecs.decode_typed::<Vec<u8>>(Some("json"), &payload)?, [1, 2, 3]);
//!
//! // The same on a connected client (`Client::connect` with this config).
//! async fn door(client: &Client) -> Result<(), ClientError> {
//!     // Decoded messages: a payload that does not decode is an `Err`
//!     // next to its message, and the stream goes on.
//!     let mut doors = client.subscription_value("doors/+", QoS::AtLeastOnce, Some("yesno")).await?;
//!     // Value forms: the default codec (utf8), then a named one.
//!     client.publish_value("doors/log", &"front opened".into(), QoS::AtMostOnce, false).await?;
//!     let yes = PublishOptions::new().codec("yesno").retain(true);
//!     client.publish_value_with("doors/front", &Value::Bool(true), yes).await?;
//!     // Typed forms: any `T: Serialize` / `T: DeserializeOwned`.
//!     let json = PublishOptions::new().codec("json").qos(QoS::AtLeastOnce);
//!     client.publish_typed_with("doors/front/state", &("open", 3), json).await?;
//!     if let Some(Decoded { message, value }) = client.deliver_typed::<(String, u32)>(Some("json")).await? {
//!         println!("{}: {:?}", message.topic(), value);
//!     }
//!     # let _ = &mut doors;
//!     Ok(())
//! }
//! # let _ = door;
//! # Ok(())
//! # }
//! ```
//!
//! # The calls
//!
//! The client's payload calls follow the naming rule of [`Client`]: the
//! plain call's arguments, a suffix for the payload form (`_value`: a
//! [`Value`]; `_typed`: any serde type), and `_with` for the same call with
//! its optional arguments in one [`PublishOptions`] (codec, QoS, retain,
//! expiry, timeout; unset ones come from the config).
//!
//! | call | what it does |
//! |---|---|
//! | [`Client::publish_value`] / [`Client::publish_value_with`] | encode a [`Value`] with the default codec / the codec of [`PublishOptions::codec`], then publish |
//! | [`Client::publish_typed`] / [`Client::publish_typed_with`] | the same for any `T: Serialize` |
//! | [`Client::subscription_value`] / [`Client::subscription_typed`] | a [`DecodedSubscription`]: a stream of [`Decoded`] messages |
//! | [`Client::deliver_value`] / [`Client::deliver_typed`] | `deliver_message`, decoded |
//! | [`Message::decode`] / [`Message::decode_typed`] | decode one message |
//! | [`Client::codecs`] | the client's registry: [`Codecs::register`] adds codecs of your own |
//!
//! All of them fail with [`ClientError`]: [`ClientError::Payload`] for an
//! unknown codec or a value that does not encode, the other variants as the
//! plain calls. A payload that does not decode is not lost: a [`Decoded`]
//! keeps the [`Message`] (and its raw payload) next to the
//! [`PayloadError`].
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `payload` | on | this module (and `serde_json`): [`Value`], [`Codecs`], the `noop`, `utf8`, `json` and `bool` codecs, the client's calls above, [`ClientError::Payload`], the will's `codec` and `value` keys |
//! | `msgpack` | on (implies `payload`) | the `msgpack` and `msgpack+json` codecs (`rmp-serde`) |
//!
//! Without `payload` the client sends and receives plain bytes: the config
//! key `codec` may only be `"noop"` (its default) or absent, `codec_params`
//! must be empty, and the will has neither `codec` nor `value` (it is
//! `message`, sent as it is); [`Config::validate`] refuses anything else
//! with [`ConfigError::NeedsFeature`](crate::ConfigError::NeedsFeature),
//! naming the key and the feature. With `payload` but without `msgpack`,
//! the names `msgpack` and `msgpack+json` stay known: a configuration that
//! uses them is refused with the same error, and the registry answers
//! [`PayloadError::NeedsFeature`] for them.
//!
//! # The built-in codecs
//!
//! | name | value | parameters |
//! |---|---|---|
//! | `noop` | bytes, as they are | none |
//! | `utf8` | text | none |
//! | `json` | any value but bytes, as JSON text (UTF-8) | `indent`: pretty-print with this many spaces |
//! | `msgpack` | any value, as MessagePack | `use_bin_type` (default `true`): bytes as `bin`; `false` writes bytes and text in the old `raw` family (see [`MsgPackCodec::with_bin_type`]); `use_list`: accepted, no effect |
//! | `msgpack+json` | JSON text (or structured data) on the application side, MessagePack on the wire | `use_bin_type`, `use_list`: accepted, no effect |
//! | `bool` | `true` / `false` (and null with `null`) as words | `on` (default `"on"`), `off` (default `"off"`), `null` (default: none) |
//!
//! `msgpack+json` is distmqtt's `MsgPackJSONCodec`: encoding parses the JSON
//! text it is given and writes the resulting structure as MessagePack;
//! decoding reads MessagePack and gives the structure back as (compact) JSON
//! text, a [`Value::Text`]. It serves code that handles JSON strings in a
//! world that talks MessagePack. distmqtt's encode always failed (it passed
//! `use_list` to `msgpack.packb`: bug #13). Typed calls skip the text step:
//! [`Codec::encode_data`] and [`Codec::decode_data`] go straight between the
//! structure and MessagePack.
//!
//! # Values
//!
//! Decoders give a string as [`Value::Text`], a boolean as [`Value::Bool`],
//! null as [`Value::Null`], bytes as [`Value::Bytes`] and anything else
//! (numbers, arrays, maps) as [`Value::Data`]; encoders also take strings,
//! booleans and null inside [`Value::Data`]. A MessagePack `bin` nested in a
//! structure becomes an array of byte values, a map key that is not a
//! string becomes its JSON text, a float that is not finite becomes null and
//! an extension type becomes `[type, [bytes...]]`: JSON's data model is the
//! structured one here. Typed calls go through that model too
//! (`serde_json::Value`): map keys come out sorted, which changes no
//! meaning in JSON or MessagePack.

mod client;
mod codec;
mod config;
mod error;
#[cfg(feature = "msgpack")]
mod msgpack;
mod registry;
mod value;

/// The payload type of [`Codec`] (re-exported from the `bytes` crate, so
/// that a codec of your own needs no dependency of its own on it).
pub use bytes::Bytes;
pub use client::{Decoded, DecodedSubscription};
pub use codec::{BoolCodec, Codec, JsonCodec, NoopCodec, Utf8Codec, builtin};
pub use config::{BUILTIN_CODECS, resolve_name};
pub(crate) use config::{check_config, will_payload};
pub use error::PayloadError;
#[cfg(feature = "msgpack")]
pub use msgpack::{MsgPackCodec, MsgPackJsonCodec};
pub use registry::Codecs;
pub use value::Value;

/// The parameters of codecs (config key `codec_params`), also at
/// [`crate::config`].
pub use crate::payload_keys::{CodecParam, CodecParams};

#[cfg(doc)]
use crate::{Client, ClientError, Config, Message, PublishOptions};

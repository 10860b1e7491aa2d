//! The `--key value` command lines of `sansmqtt-faults` and of the
//! processes it starts (the crash publisher, the flood client).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// `--key value` pairs, and `--switch`es that take no value.
#[derive(Debug, Clone, Default)]
pub struct Flags(HashMap<String, String>);

impl Flags {
    /// Reads `args`; the keys in `switches` take no value.
    pub fn parse(args: &[String], switches: &[&str]) -> Result<Flags, String> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected {a}"))?;
            let value = if switches.contains(&key) {
                "true".to_owned()
            } else {
                it.next().cloned().ok_or(format!("--{key} needs a value"))?
            };
            map.insert(key.to_owned(), value);
        }
        Ok(Flags(map))
    }

    /// The value of `key`, as given.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether `key` was given (a switch, or a key with its value).
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The value of `key`, if given.
    pub fn opt<T: FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        self.str(key)
            .map(|v| v.parse().map_err(|_| format!("--{key} {v}")))
            .transpose()
    }

    /// The value of `key`, or `default`.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        Ok(self.opt(key)?.unwrap_or(default))
    }

    /// The value of `key`, which must be given.
    pub fn need<T: FromStr>(&self, key: &str) -> Result<T, String> {
        self.opt(key)?.ok_or(format!("--{key} is required"))
    }

    /// `LO..HI` in seconds, or `default`.
    pub fn range(&self, key: &str, default: (f64, f64)) -> Result<(Duration, Duration), String> {
        let (lo, hi) = match self.str(key) {
            None => default,
            Some(v) => {
                let (a, b) = v.split_once("..").ok_or(format!("--{key} LO..HI"))?;
                let p = |s: &str| s.parse::<f64>().map_err(|_| format!("--{key} {v}"));
                (p(a)?, p(b)?)
            }
        };
        Ok((Duration::from_secs_f64(lo), Duration::from_secs_f64(hi)))
    }

    /// Fails on a key not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown flag --{k}")),
            None => Ok(()),
        }
    }
}

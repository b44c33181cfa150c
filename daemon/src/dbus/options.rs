//! `Generate`'s `a{sv}` options, parsed without I/O so every refusal is unit-tested. Ranges that
//! depend on the configuration or the bundle (seconds, prompt length) are left to
//! [`crate::queue::admit`], which the store applies at submission.

use std::collections::HashMap;
use std::path::PathBuf;

use zbus::{OwnedVariant, Variant};

use super::errors::ReelError;

/// Options this build understands.
pub const KNOWN: &[&str] = &["seconds", "seed", "bundle"];
/// Options that are part of the API but wait for later issues (#5, #9); refused by name.
pub const NOT_YET: &[&str] = &["style", "shots", "cameo", "outputs"];

/// What the caller asked for beyond the prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOptions {
    /// Clip length; `None` means the bundle's default.
    pub seconds: Option<f64>,
    /// Noise seed; `None` means a random one.
    pub seed: Option<u64>,
    /// Bundle directory; `None` means `engine.bundle`.
    pub bundle: Option<PathBuf>,
}

/// Parses the options dictionary; the first problem found is returned, naming the option.
pub fn parse(options: &HashMap<String, OwnedVariant>) -> Result<JobOptions, ReelError> {
    let mut parsed = JobOptions::default();
    // Sorted so that the same bad request always gets the same answer.
    let mut keys: Vec<&String> = options.keys().collect();
    keys.sort();
    for key in keys {
        let value: &Variant<'_> = &options[key];
        match key.as_str() {
            "seconds" => parsed.seconds = Some(seconds(value)?),
            "seed" => parsed.seed = Some(seed(value)?),
            "bundle" => parsed.bundle = Some(bundle(value)?),
            other if NOT_YET.contains(&other) => {
                return Err(ReelError::NotSupported(format!(
                    "option `{other}` is not supported yet; leave it out (supported: {})",
                    KNOWN.join(", ")
                )));
            }
            other => {
                return Err(ReelError::InvalidArgument(format!(
                    "unknown option `{other}`; known options: {}",
                    KNOWN.join(", ")
                )));
            }
        }
    }
    Ok(parsed)
}

fn wrong_type(option: &str, expected: &str, value: &Variant<'_>) -> ReelError {
    ReelError::InvalidArgument(format!(
        "option `{option}` must be {expected}; got a value of type `{}`",
        value.value_signature()
    ))
}

fn seconds(value: &Variant<'_>) -> Result<f64, ReelError> {
    // Integers are accepted too: `busctl` and shells make `4` far more often than `4.0`.
    let seconds = match *value {
        Variant::F64(v) => v,
        Variant::U8(v) => v.into(),
        Variant::I16(v) => v.into(),
        Variant::U16(v) => v.into(),
        Variant::I32(v) => v.into(),
        Variant::U32(v) => v.into(),
        Variant::I64(v) => v as f64,
        Variant::U64(v) => v as f64,
        _ => {
            return Err(wrong_type(
                "seconds",
                "a number (d, or an integer type)",
                value,
            ));
        }
    };
    Ok(seconds)
}

fn seed(value: &Variant<'_>) -> Result<u64, ReelError> {
    let signed = |v: i64| {
        u64::try_from(v).map_err(|_| {
            ReelError::InvalidArgument(format!("option `seed` must not be negative; got {v}"))
        })
    };
    match *value {
        Variant::U8(v) => Ok(v.into()),
        Variant::U16(v) => Ok(v.into()),
        Variant::U32(v) => Ok(v.into()),
        Variant::U64(v) => Ok(v),
        Variant::I16(v) => signed(v.into()),
        Variant::I32(v) => signed(v.into()),
        Variant::I64(v) => signed(v),
        _ => Err(wrong_type(
            "seed",
            "a non-negative integer (t, u, x or i)",
            value,
        )),
    }
}

fn bundle(value: &Variant<'_>) -> Result<PathBuf, ReelError> {
    let Variant::Str(path) = value else {
        return Err(wrong_type(
            "bundle",
            "a string (s) holding a directory path",
            value,
        ));
    };
    let path = PathBuf::from(path.as_str());
    // The daemon's working directory means nothing to the caller.
    if !path.is_absolute() {
        return Err(ReelError::InvalidArgument(format!(
            "option `bundle` must be an absolute path; got `{}`",
            path.display()
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, Variant<'static>)]) -> HashMap<String, OwnedVariant> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    OwnedVariant::try_from(v.try_clone().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    fn message(result: Result<JobOptions, ReelError>) -> (String, String) {
        use zbus::DBusError;
        let e = result.unwrap_err();
        (
            e.name().to_string(),
            e.description().unwrap_or_default().to_string(),
        )
    }

    #[test]
    fn known_options_parse_and_integers_are_seconds_too() {
        let parsed = parse(&opts(&[
            ("seconds", Variant::from(2.5)),
            ("seed", Variant::from(7u64)),
            ("bundle", Variant::from("/usr/share/reel/bundles/default")),
        ]))
        .unwrap();
        assert_eq!(parsed.seconds, Some(2.5));
        assert_eq!(parsed.seed, Some(7));
        assert_eq!(
            parsed.bundle,
            Some(PathBuf::from("/usr/share/reel/bundles/default"))
        );
        for v in [
            Variant::from(3i32),
            Variant::from(3u32),
            Variant::from(3i64),
            Variant::from(3u8),
        ] {
            assert_eq!(parse(&opts(&[("seconds", v)])).unwrap().seconds, Some(3.0));
        }
        assert_eq!(
            parse(&opts(&[("seed", Variant::from(9i32))])).unwrap().seed,
            Some(9)
        );
        assert_eq!(parse(&HashMap::new()).unwrap(), JobOptions::default());
    }

    #[test]
    fn unknown_and_unsupported_options_are_refused_by_name() {
        let (name, text) = message(parse(&opts(&[("colour", Variant::from("red"))])));
        assert_eq!(name, "org.reel.Reel1.Error.InvalidArgument");
        assert!(
            text.contains("`colour`") && text.contains("seconds"),
            "{text}"
        );
        let (name, text) = message(parse(&opts(&[("style", Variant::from("anime"))])));
        assert_eq!(name, "org.reel.Reel1.Error.NotSupported");
        assert!(
            text.contains("option `style` is not supported yet"),
            "{text}"
        );
    }

    #[test]
    fn wrong_types_and_negative_seeds_name_the_option() {
        let (_, text) = message(parse(&opts(&[("seconds", Variant::from("four"))])));
        assert!(text.contains("`seconds`") && text.contains("`s`"), "{text}");
        let (_, text) = message(parse(&opts(&[("seed", Variant::from(1.5))])));
        assert!(text.contains("`seed`") && text.contains("`d`"), "{text}");
        let (_, text) = message(parse(&opts(&[("seed", Variant::from(-1i64))])));
        assert!(text.contains("must not be negative"), "{text}");
        let (_, text) = message(parse(&opts(&[("bundle", Variant::from("bundles/x"))])));
        assert!(text.contains("absolute path"), "{text}");
        let (_, text) = message(parse(&opts(&[("bundle", Variant::from(3u32))])));
        assert!(text.contains("`bundle`") && text.contains("`u`"), "{text}");
    }
}

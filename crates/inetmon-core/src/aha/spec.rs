//! The AHAFS specification string a consumer writes into a `.mon` file
//! before it reads events, e.g. `CHANGED=YES;WAIT_TYPE=WAIT_IN_READ;INFO_LVL=2`.
//!
//! `KEY=VALUE` items separated by `;`; surrounding blanks, a trailing `;`,
//! a trailing newline and trailing NUL bytes (C consumers often write
//! `strlen + 1` bytes) are accepted. Keys:
//!
//! | key | values | default |
//! |---|---|---|
//! | `CHANGED` | `YES` (required: the `inetsock` producer reports changes, it has no thresholds) | — |
//! | `WAIT_TYPE` | `WAIT_IN_READ` (a `read` blocks until an event), `WAIT_IN_SELECT` (`select`/`poll` wait; a `read` with nothing buffered fails with `EAGAIN`) | `WAIT_IN_SELECT` |
//! | `INFO_LVL` | `1`, `2`, `3` | `1` |
//! | `NOTIFY_CNT` | `-1` (continuous) or `n` ≥ 1 (the first `n` events, then end of file) | `-1` |
//! | `BUF_SIZE` | bytes of event blocks buffered between reads, 4096 ..= 1048576 | `4096` |
//!
//! Anything else — an unknown key, a repeated key, a bad value, an item
//! without `=`, a missing `CHANGED=YES`, text that is not UTF-8 — is a
//! [`SpecError`]; the file system answers the `write` with `EINVAL`.

use crate::format::ahafs::InfoLevel;

/// Smallest accepted `BUF_SIZE`.
pub const MIN_BUF_SIZE: usize = 4096;
/// Largest accepted `BUF_SIZE`.
pub const MAX_BUF_SIZE: usize = 1 << 20;
/// Longest specification accepted, in bytes (a real one is < 100).
pub const MAX_SPEC_LEN: usize = 1024;

/// How a consumer waits for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitType {
    /// `read` blocks until an event is buffered.
    InRead,
    /// `select`/`poll` wait; `read` does not block.
    InSelect,
}

/// How many events the subscription delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyCount {
    /// `NOTIFY_CNT=-1`: until the file is closed.
    Continuous,
    /// `NOTIFY_CNT=n`: the first `n` events, then end of file.
    Times(u64),
}

/// A parsed specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// `WAIT_TYPE`.
    pub wait: WaitType,
    /// `INFO_LVL`.
    pub info_lvl: InfoLevel,
    /// `NOTIFY_CNT`.
    pub notify_cnt: NotifyCount,
    /// `BUF_SIZE`, bytes.
    pub buf_size: usize,
}

/// Why a specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// More than [`MAX_SPEC_LEN`] bytes.
    #[error("specification longer than {MAX_SPEC_LEN} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("specification is not UTF-8")]
    NotUtf8,
    /// An item without `=`.
    #[error("item {0:?} is not KEY=VALUE")]
    NotKeyValue(String),
    /// A key this producer does not know.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// A key given twice.
    #[error("key {0} given twice")]
    Repeated(&'static str),
    /// A value out of range or of the wrong form.
    #[error("bad value {value:?} for {key}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
    },
    /// `CHANGED=YES` missing.
    #[error("CHANGED=YES is required")]
    NoChanged,
}

impl Spec {
    /// Parses the bytes of one `write`.
    ///
    /// # Errors
    /// [`SpecError`] for anything malformed (see the module documentation).
    pub fn parse(bytes: &[u8]) -> Result<Spec, SpecError> {
        if bytes.len() > MAX_SPEC_LEN {
            return Err(SpecError::TooLong);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SpecError::NotUtf8)?;
        let text = text.trim_end_matches('\0').trim();
        let mut changed = None;
        let mut wait = None;
        let mut info = None;
        let mut notify = None;
        let mut buf = None;
        for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(SpecError::NotKeyValue(item.to_owned()));
            };
            let (key, value) = (key.trim(), value.trim());
            let bad = |key: &'static str| SpecError::BadValue {
                key,
                value: value.to_owned(),
            };
            match key {
                "CHANGED" => {
                    once(&mut changed, "CHANGED", (value == "YES").then_some(()))
                        .and_then(|o| o.ok_or_else(|| bad("CHANGED")))?;
                }
                "WAIT_TYPE" => {
                    let w = match value {
                        "WAIT_IN_READ" => Some(WaitType::InRead),
                        "WAIT_IN_SELECT" => Some(WaitType::InSelect),
                        _ => None,
                    };
                    once(&mut wait, "WAIT_TYPE", w)
                        .and_then(|o| o.ok_or_else(|| bad("WAIT_TYPE")))?;
                }
                "INFO_LVL" => {
                    let l = match value {
                        "1" => Some(InfoLevel::One),
                        "2" => Some(InfoLevel::Two),
                        "3" => Some(InfoLevel::Three),
                        _ => None,
                    };
                    once(&mut info, "INFO_LVL", l)
                        .and_then(|o| o.ok_or_else(|| bad("INFO_LVL")))?;
                }
                "NOTIFY_CNT" => {
                    let n = match value {
                        "-1" => Some(NotifyCount::Continuous),
                        v => v
                            .parse::<u64>()
                            .ok()
                            .filter(|n| *n >= 1)
                            .map(NotifyCount::Times),
                    };
                    once(&mut notify, "NOTIFY_CNT", n)
                        .and_then(|o| o.ok_or_else(|| bad("NOTIFY_CNT")))?;
                }
                "BUF_SIZE" => {
                    let b = value
                        .parse::<usize>()
                        .ok()
                        .filter(|b| (MIN_BUF_SIZE..=MAX_BUF_SIZE).contains(b));
                    once(&mut buf, "BUF_SIZE", b).and_then(|o| o.ok_or_else(|| bad("BUF_SIZE")))?;
                }
                other => return Err(SpecError::UnknownKey(other.to_owned())),
            }
        }
        if changed.is_none() {
            return Err(SpecError::NoChanged);
        }
        Ok(Spec {
            wait: wait.unwrap_or(WaitType::InSelect),
            info_lvl: info.unwrap_or(InfoLevel::One),
            notify_cnt: notify.unwrap_or(NotifyCount::Continuous),
            buf_size: buf.unwrap_or(MIN_BUF_SIZE),
        })
    }
}

/// Stores `value` in `slot` unless the key was already seen; returns the
/// value's validity as an `Option` for the caller's error.
fn once<T: Copy>(
    slot: &mut Option<T>,
    key: &'static str,
    value: Option<T>,
) -> Result<Option<T>, SpecError> {
    if slot.is_some() {
        return Err(SpecError::Repeated(key));
    }
    *slot = value;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_and_defaults() {
        let s = Spec::parse(b"CHANGED=YES;WAIT_TYPE=WAIT_IN_READ;INFO_LVL=2").unwrap();
        assert_eq!(
            s,
            Spec {
                wait: WaitType::InRead,
                info_lvl: InfoLevel::Two,
                notify_cnt: NotifyCount::Continuous,
                buf_size: 4096
            }
        );
        let s = Spec::parse(b"CHANGED=YES\0").unwrap();
        assert_eq!(s.wait, WaitType::InSelect);
        assert_eq!(s.info_lvl, InfoLevel::One);
    }

    #[test]
    fn every_key_and_tolerated_framing() {
        let s = Spec::parse(
            b" CHANGED=YES ; WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=3;NOTIFY_CNT=5;BUF_SIZE=65536;\n\0\0",
        )
        .unwrap();
        assert_eq!(
            s,
            Spec {
                wait: WaitType::InSelect,
                info_lvl: InfoLevel::Three,
                notify_cnt: NotifyCount::Times(5),
                buf_size: 65536
            }
        );
        assert_eq!(
            Spec::parse(b"CHANGED=YES;NOTIFY_CNT=-1")
                .unwrap()
                .notify_cnt,
            NotifyCount::Continuous
        );
    }

    #[test]
    fn malformed_is_refused() {
        let cases: [(&[u8], SpecError); 12] = [
            (b"", SpecError::NoChanged),
            (b"WAIT_TYPE=WAIT_IN_READ", SpecError::NoChanged),
            (
                b"CHANGED=NO",
                SpecError::BadValue {
                    key: "CHANGED",
                    value: "NO".into(),
                },
            ),
            (b"CHANGED", SpecError::NotKeyValue("CHANGED".into())),
            (b"CHANGED=YES;FOO=1", SpecError::UnknownKey("FOO".into())),
            (
                b"CHANGED=YES;INFO_LVL=4",
                SpecError::BadValue {
                    key: "INFO_LVL",
                    value: "4".into(),
                },
            ),
            (
                b"CHANGED=YES;NOTIFY_CNT=0",
                SpecError::BadValue {
                    key: "NOTIFY_CNT",
                    value: "0".into(),
                },
            ),
            (
                b"CHANGED=YES;BUF_SIZE=100",
                SpecError::BadValue {
                    key: "BUF_SIZE",
                    value: "100".into(),
                },
            ),
            (
                b"CHANGED=YES;WAIT_TYPE=WAIT_IN_POLL",
                SpecError::BadValue {
                    key: "WAIT_TYPE",
                    value: "WAIT_IN_POLL".into(),
                },
            ),
            (
                b"CHANGED=YES;INFO_LVL=1;INFO_LVL=2",
                SpecError::Repeated("INFO_LVL"),
            ),
            (b"CHANGED=YES;\xff", SpecError::NotUtf8),
            (&[b'A'; 2000], SpecError::TooLong),
        ];
        for (input, want) in cases {
            assert_eq!(
                Spec::parse(input),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Spec::parse(&data);
        }
    }
}

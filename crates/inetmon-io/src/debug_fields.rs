//! `Debug` for types with fields that have none (sessions, caches, channels,
//! closures): the listed fields, then `..`.

/// Implements `Debug` for a struct by showing the listed fields and ending
/// with `..` ([`std::fmt::DebugStruct::finish_non_exhaustive`]), for types
/// whose other fields cannot or need not be shown.
///
/// `debug_fields!(AhaFs { mountpoint, .. })` prints
/// `AhaFs { mountpoint: "/aha", .. }`.
macro_rules! debug_fields {
    ($ty:ident { $($field:ident),+ , .. }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))+
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use debug_fields;

#[cfg(test)]
mod tests {
    struct Session {
        name: &'static str,
        #[allow(dead_code)]
        handle: fn(),
    }
    debug_fields!(Session { name, .. });

    #[test]
    fn shows_the_listed_fields_then_dots() {
        let s = Session {
            name: "a",
            handle: || {},
        };
        assert_eq!(format!("{s:?}"), "Session { name: \"a\", .. }");
    }
}

//! IP Filter 5.1 `ipmon` text, byte for byte.

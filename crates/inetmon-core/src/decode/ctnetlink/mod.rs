//! ctnetlink conntrack event messages (work in progress on the `decoders` branch).

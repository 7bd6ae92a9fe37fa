//! Protocol and service name tables.

//! One JSON object per event.

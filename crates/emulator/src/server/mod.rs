//! The HTTP side of the emulator (placeholder: filled in by the server work).
